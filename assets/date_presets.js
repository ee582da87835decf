/* The date presets of the filter bar (components/filter_bar.py: 昨天 / 近7天 / 近30天 / 本月 / 上月).
 * Each button carries its dates, worked out on the server from the days that have data; a click
 * puts them into the date picker named by data-target through Dash's set_props, as if picked by
 * hand, so the page's callbacks (its sections, the URL) run as for any other date change. One
 * listener on the document serves every page without a callback per page. */
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("[data-date-preset]") : null;
  if (!button || button.disabled || !button.dataset.start) return;
  if (!window.dash_clientside || !window.dash_clientside.set_props) return;
  window.dash_clientside.set_props(button.dataset.target, {
    start_date: button.dataset.start,
    end_date: button.dataset.end,
  });
});
