"""Chinese number formatting (issue 13 §6): half-up rounding on the printed decimal, two decimals
below ¥1万, the sign before ¥; the grids' browser formatters (assets/dashAgGridFunctions.js, run
with node) give the same text as components/format.py."""

from __future__ import annotations

import pytest

from components import format as fmt
from tests.assets_js import run_grid_js

NAN, INF = float("nan"), float("inf")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (10.5, "¥10.50"),  # was "¥10": :,.0f
        (0.125, "¥0.13"),  # exactly 1/8: half-up, not half-even (0.12)
        (2.675, "¥2.68"),  # printed 2.675, stored 2.67499999…: rounds as printed
        (-168.46, "-¥168.46"),  # sign before ¥
        (-1032.41, "-¥1,032.41"),
        (1234.4, "¥1,234.40"),
        (9999.994, "¥9,999.99"),
        (9999.995, "¥1.00万"),  # rounds to ¥10,000.00, which is ¥1万
        (12345.678, "¥1.23万"),  # 1.2345678万
        (12355.0, "¥1.24万"),  # 1.2355万 half-up
        (123456.0, "¥12.35万"),
        (-15000.0, "-¥1.50万"),
        (-0.004, "¥0.00"),  # rounds to zero: no minus sign
        (0, "¥0.00"),
        (None, "—"),
        (NAN, "—"),
        (INF, "—"),
    ],
)
def test_format001_money(value, text):
    assert fmt.money(value) == text


def test_format002_counts_percent_and_changes_round_half_up():
    assert fmt.count(10.5) == "11" and fmt.count(2.5) == "3"  # Python's round gives 10 and 2
    assert fmt.count(-3) == "-3" and fmt.count(1234) == "1,234"
    assert fmt.count(99999.4) == "99,999" and fmt.count(99999.5) == "10.0万"  # rounds to 100,000
    assert fmt.count(123456) == "12.3万"
    assert fmt.percent(0.125) == "12.5%" and fmt.percent(0.1225) == "12.3%"  # 12.25 → 12.3
    assert fmt.percent(0.145, digits=0) == "15%"  # 0.145 × 100 is 14.499999… in floats
    assert fmt.percent(-0.0004) == "0.0%" and fmt.percent(-0.0125) == "-1.3%"
    assert fmt.change(0.0125) == "+1.3%" and fmt.change(-0.052) == "-5.2%" and fmt.change(0) == "+0.0%"
    assert fmt.change(-0.00049) == "+0.0%"  # −0.049 % rounds to zero
    assert fmt.change(0.021, rate=True) == "+2.1个百分点" and fmt.change(-0.0125, rate=True) == "-1.3个百分点"
    assert fmt.number(1.005) == "1.01" and fmt.number(72.5, 0) == "73" and fmt.number(1234.5, 0) == "1,235"
    assert fmt.kpi_value(10.5, "money") == "¥10.50" and fmt.kpi_value(18, "money_precise") == "¥18.00"
    assert fmt.kpi_value(0.1225, "percent") == "12.3%" and fmt.kpi_value(1234, "count") == "1,234"


GRID_VALUES = [0, 10.5, 0.125, 2.675, 1.005, -168.46, -1032.41, -0.004, 0.1225, 0.145, -0.0004, -0.0125,
               1234.4, 9999.994, 72.5, 0.5, -2.5, 1e-7, 0.0125, 123.455, 0.285, 1.115, 8.325, None]  # fmt: skip
NODE_SCRIPT = """
global.window = {};
require(process.argv[1]);
const f = window.dashAgGridFunctions;
const values = JSON.parse(process.argv[2]);
const out = {};
for (const name of ["o2oMoney", "o2oPercent", "o2oChange", "o2oPoints", "o2oCount", "o2oScore", "o2oNumber"]) {
  out[name] = values.map(v => f[name](v));
}
process.stdout.write(JSON.stringify(out));
"""


def _grid_texts(values: list) -> dict[str, list[str]]:
    return run_grid_js(NODE_SCRIPT, values)


def test_format003_grid_formatters_agree_with_python():
    js = _grid_texts(GRID_VALUES)
    python = {
        "o2oMoney": fmt.money, "o2oPercent": fmt.percent, "o2oChange": fmt.change,
        "o2oPoints": lambda v: fmt.change(v, rate=True), "o2oCount": fmt.count,
        "o2oScore": lambda v: fmt.number(v, 0), "o2oNumber": fmt.number,
    }  # fmt: skip
    for name, expected in python.items():
        assert js[name] == [expected(v) for v in GRID_VALUES], name
    assert js["o2oMoney"][:4] == ["¥0.00", "¥10.50", "¥0.13", "¥2.68"]  # by hand, as in test_format001


def test_format004_grids_show_money_in_full():
    """From ¥1万 the grid keeps the exact amount (Python's money switches to 万)."""
    js = _grid_texts([9999.995, 12345.678, -123456.785, 99999.5])
    assert js["o2oMoney"] == ["¥10,000.00", "¥12,345.68", "-¥123,456.79", "¥99,999.50"]
    assert js["o2oCount"] == ["10,000", "12,346", "-123,457", "100,000"]
