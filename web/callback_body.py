"""The guard of Dash callback requests: a body Dash cannot dispatch is a 400, not a 500.

Dash reads ``request.get_json()`` and trusts its shape: a JSON array, a missing ``inputs``, an
output no callback has, an input list of the wrong length or a dict where a store id belongs
each ended in a traceback and a 500. Before Dash sees the request, this guard parses the body
(Flask caches the parse for Dash) and checks it against the callback it names:

- a JSON object, nested at most MAX_JSON_DEPTH levels (Python's parser recurses: 50,000 ``[``
  were a RecursionError);
- ``output`` a server callback of the app (``app.callback_map``; clientside ones never reach
  the server), ``outputs`` its outputs;
- ``inputs`` / ``state`` lists of ``{id, property, value}`` with the callback's own ids and
  properties in its order (a list of them for an ALL pattern), each value of the kind declared
  for that property (web.prop_kinds); ``changedPropIds`` a list of strings.

The output of an accepted request is kept in ``g`` for the callback latency histogram, whose
label therefore only ever holds the app's own outputs.
"""

from __future__ import annotations

import functools
import json

from dash import Dash
from dash._utils import split_callback_id
from flask import g, request
from werkzeug.exceptions import BadRequest

from monitoring.endpoints import CALLBACK_OUTPUT_KEY
from web.prop_kinds import TEXT, declare, kind_of

# The renderer's bodies nest ~6 levels (a grid's rows: list → dict → value); Python's JSON parser
# recurses once per level and Dash's code walks values recursively too.
MAX_JSON_DEPTH = 64
MAX_CHANGED_CHARS = 1024
WILDCARDS = ("ALL", "MATCH", "ALLSMALLER")
PAGES_LOCATION = "_pages_location"  # Dash Pages' router reads the address from it


class InvalidCallback(BadRequest):
    """A callback request Dash cannot dispatch (the description says why)."""


def install_callback_guard(app: Dash) -> None:
    """Check every request to ``app``'s callback route before Dash dispatches it."""
    path = app.config.routes_pathname_prefix + "_dash-update-component"
    declare(PAGES_LOCATION, "pathname", TEXT)
    declare(PAGES_LOCATION, "search", TEXT)

    @app.server.before_request
    def check_callback_request():
        if request.path == path and request.method == "POST":
            setattr(g, CALLBACK_OUTPUT_KEY, check_body(parsed_body(), app.callback_map))


def parsed_body() -> object:
    """The JSON body (parsed once: Dash reads Flask's cached parse); 400 when it is no JSON or
    nests deeper than MAX_JSON_DEPTH, 413 over the size limit, 415 not sent as JSON."""
    try:
        body = request.get_json()
    except RecursionError:
        raise InvalidCallback(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    if _deeper_than(body, MAX_JSON_DEPTH):
        raise InvalidCallback(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    return body


def _deeper_than(value: object, limit: int) -> bool:
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            return True
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def check_body(body: object, callback_map: dict) -> str:
    """The output of a well-formed request for one of the app's server callbacks; else
    InvalidCallback."""
    if not isinstance(body, dict):
        raise InvalidCallback("body is not a JSON object")
    output = body.get("output")
    spec = callback_map.get(output) if isinstance(output, str) else None
    if spec is None or spec.get("callback") is None:
        raise InvalidCallback("output is not a server callback of this app")
    _check_outputs(body.get("outputs"), output)
    for field in ("inputs", "state"):
        _check_values(field, body.get(field, [] if field == "state" else None), spec[field])
    changed = body.get("changedPropIds", [])
    if not (isinstance(changed, list)
            and all(isinstance(c, str) and len(c) <= MAX_CHANGED_CHARS for c in changed)):  # fmt: skip
        raise InvalidCallback("changedPropIds is not a list of strings")
    return output


def _check_outputs(outputs: object, output: str) -> None:
    parts = split_callback_id(output)
    if output.startswith(".."):
        if not isinstance(outputs, list) or len(outputs) != len(parts):
            raise InvalidCallback("outputs do not match the callback")
        pairs = zip(outputs, parts, strict=True)
    else:
        pairs = [(outputs, parts)]
    for entry, part in pairs:
        for item in _entries(entry, part["id"], "outputs"):
            _check_target(item, part["id"], part["property"], "outputs")


def _check_values(field: str, entries: object, deps: list[dict]) -> None:
    if not isinstance(entries, list) or len(entries) != len(deps):
        raise InvalidCallback(f"{field} do not match the callback")
    for entry, dep in zip(entries, deps, strict=True):
        for item in _entries(entry, dep["id"], field):
            _check_target(item, dep["id"], dep["property"], field)
            kind = kind_of(item["id"], dep["property"])
            if kind is None:
                raise InvalidCallback(f"{field}: {_name(dep)} has no declared kind")
            if not kind.accepts(item.get("value")):
                raise InvalidCallback(f"{field}: {_name(dep)} must be {kind.name}")


def _entries(entry: object, dep_id: str, field: str) -> list:
    """The entries standing for one dependency: a list of them for an ALL / ALLSMALLER pattern."""
    pattern = _pattern(dep_id)
    if isinstance(pattern, dict) and any(_wild(v) in ("ALL", "ALLSMALLER") for v in pattern.values()):
        if not isinstance(entry, list):
            raise InvalidCallback(f"{field}: a pattern of several components takes a list")
        return entry
    return [entry]


def _check_target(item: object, dep_id: str, prop: str, field: str) -> None:
    """``item`` is {id, property, ...} naming the dependency's component and property."""
    named = isinstance(item, dict) and isinstance(item.get("property"), str)
    if not (named and item["property"].split("@")[0] == prop.split("@")[0] and _id_matches(item.get("id"), dep_id)):
        raise InvalidCallback(f"{field}: an entry does not match the callback")


def _id_matches(component_id: object, dep_id: str) -> bool:
    pattern = _pattern(dep_id)
    if not isinstance(pattern, dict):
        return component_id == pattern
    if not isinstance(component_id, dict) or set(component_id) != set(pattern):
        return False
    for key, wanted in pattern.items():
        value = component_id[key]
        if _wild(wanted) is None:
            if value != wanted:
                return False
        elif not isinstance(value, str | int | float | bool):
            return False
    return True


@functools.lru_cache(maxsize=1024)
def _pattern(dep_id: str) -> str | dict:
    """A dependency's id as registered: a string, or the dict of a pattern-matching id."""
    return json.loads(dep_id) if dep_id.startswith("{") else dep_id


def _wild(value: object) -> str | None:
    if isinstance(value, list) and len(value) == 1 and value[0] in WILDCARDS:
        return value[0]
    return None


def _name(dep: dict) -> str:
    return f"{dep['id']}.{dep['property']}"
