"""Dash's JSON encoding of callback responses and layouts, done by orjson in one pass.

Dash encodes every response with plotly's ``to_json_plotly``. With orjson installed that first
rebuilds the whole value in Python (``clean_to_json_compatible``: one call per dict, list and
value) and only then calls orjson; at 200 users that walk was 18 % of the workers' GIL time
(py-spy ``--gil``). Here orjson walks the value itself and asks back only for what it does not
know: Dash components (``to_plotly_json``, as Dash does) and whatever plotly's own encoder
converts (pandas and numpy objects, Decimal, dates …), so the JSON is the same
(``scripts/bench_encoding.py``: a 220 KB 商品分析 body 5.7 → 0.5 ms). NaN and infinities become
null, as with plotly.

Dash has no setting for its encoder: :func:`install` rebinds ``to_json`` in the Dash modules
that encode responses and layouts, after checking that each still holds Dash's own function
(``dash==4.4.1`` is pinned; a Dash that moved it is left alone, with a warning, and still works).
"""

from __future__ import annotations

import importlib
import logging

import orjson
from plotly.utils import PlotlyJSONEncoder

log = logging.getLogger(__name__)

OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS
DASH_MODULES = ("dash._callback", "dash.dash")  # they encode callback responses and the layout
_plotly = PlotlyJSONEncoder()


def _default(value):
    to_plotly_json = getattr(value, "to_plotly_json", None)
    if callable(to_plotly_json):
        return to_plotly_json()
    return _plotly.default(value)  # raises TypeError for what plotly cannot encode either


def to_json(value) -> str:
    """``value`` as JSON text, equal to what ``dash._utils.to_json`` returns."""
    return orjson.dumps(value, default=_default, option=OPTIONS).decode()


def install() -> list[str]:
    """Let Dash encode with :func:`to_json`; returns the modules it now does so in."""
    from dash import _utils

    done = []
    for name in DASH_MODULES:
        module = importlib.import_module(name)
        current = getattr(module, "to_json", None)
        if current is to_json:
            done.append(name)
        elif current is _utils.to_json:
            module.to_json = to_json
            done.append(name)
        else:
            log.warning("%s.to_json is not Dash's encoder: left as it is", name)
    return done
