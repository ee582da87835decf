/* Number formatters of the grids (components/grid.py calls them by name in valueFormatter):
 * the browser twin of components/format.py. Same rules: half-up rounding on the decimal a number
 * prints as (String(x), the same shortest digits as Python's str(x)), not on its binary value as
 * toFixed and d3-format do (9999.995 would give 9,999.99); the minus sign before ¥ ("-¥168.46")
 * and none when the rounded value is zero. tests/unit/test_format.py runs both on the same values.
 * Grids show money in full (¥12,345.68), not in 万: a table is read for the exact amount. */
var dagfuncs = (window.dashAgGridFunctions = window.dashAgGridFunctions || {});

(function () {
  var DASH = "—";

  function missing(value) {
    return value === null || value === undefined || typeof value !== "number" || !isFinite(value);
  }

  // x · 10^places computed on the decimal digits, so 9999.995 · 100 is exactly 999999.5
  function shift(x, places) {
    var parts = String(x).split("e");
    return Number(parts[0] + "e" + ((parts.length > 1 ? Number(parts[1]) : 0) + places));
  }

  // |x| rounded half-up to ``digits`` decimals, as text with thousands separators if ``grouped``
  function fixed(x, digits, grouped) {
    var text = shift(Math.round(shift(Math.abs(x), digits)), -digits).toFixed(digits);
    if (!grouped) return text;
    var parts = text.split(".");
    parts[0] = parts[0].replace(/\B(?=(\d{3})+(?!\d))/g, ",");
    return parts.join(".");
  }

  function sign(value, text, plus) {
    return value < 0 && /[1-9]/.test(text) ? "-" : plus || "";
  }

  function plain(digits, grouped) {
    return function (value) {
      if (missing(value)) return DASH;
      var text = fixed(value, digits, grouped);
      return sign(value, text) + text;
    };
  }

  dagfuncs.o2oMoney = function (value) {
    if (missing(value)) return DASH;
    var text = fixed(value, 2, true);
    return sign(value, text) + "¥" + text;
  };
  // an ISO time to the minute, "2026-11-25 20:24" (cut, not rounded: as the downloads write it)
  dagfuncs.o2oDateTime = function (value) {
    if (value === null || value === undefined || value === "") return DASH;
    return String(value).slice(0, 16).replace("T", " ");
  };
  dagfuncs.o2oCount = plain(0, true);
  dagfuncs.o2oScore = plain(0, true);
  dagfuncs.o2oNumber = plain(2, true);
  dagfuncs.o2oPercent = function (value) {
    if (missing(value)) return DASH;
    var text = fixed(shift(value, 2), 1, false);
    return sign(value, text) + text + "%";
  };
  dagfuncs.o2oChange = function (value) {
    if (missing(value)) return DASH;
    var text = fixed(shift(value, 2), 1, false);
    return sign(value, text, "+") + text + "%";
  };
  dagfuncs.o2oPoints = function (value) {
    if (missing(value)) return DASH;
    var text = fixed(shift(value, 2), 1, false);
    return sign(value, text, "+") + text + "个百分点";
  };
})();

/* Link cells (components/grid.py, kind "link"): the cell's value as text — a store or SKU name
 * from an imported file is shown as written, never read as Markdown or HTML — in an <a> to the
 * row's ``hrefField`` (a path the server built). Only a same-origin path ("/…", not "//…") is a
 * link; anything else (javascript:, another site) leaves the text alone. */
(function () {
  var components = (window.dashAgGridComponentFunctions = window.dashAgGridComponentFunctions || {});
  var SAME_ORIGIN_PATH = /^\/(?![\/\\])/;

  components.O2oLink = function (props) {
    var text = props.value === null || props.value === undefined ? "" : String(props.value);
    var href = props.data && props.hrefField ? props.data[props.hrefField] : null;
    if (typeof href !== "string" || !SAME_ORIGIN_PATH.test(href)) {
      return React.createElement("span", null, text);
    }
    return React.createElement("a", { href: href, className: "o2o-grid-link" }, text);
  };
})();
