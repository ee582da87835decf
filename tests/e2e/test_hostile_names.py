"""Imported names are text, never markup: a small export whose store names, cities, SKU names,
categories, channels and order ids are Markdown, HTML and entities is imported through the real
importer, and every registered page (with the stores chosen in the filters, 今日必做 expanded and
the channel drill-down down to one order) is opened in Debian chromium, offline. No outside
request is attempted, no element is made from the data (no <b>, <img>, <a href=http…>, <script>,
no dialog), and the names read literally in the grids, the charts' SVG and the downloads."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from urllib.parse import urlencode

import dash
import pandas as pd
import pytest
from sqlalchemy import select

from components import ids
from db.demo_data import DemoSpec, generate_orders, write_exports
from db.engine import make_engine
from db.importer import import_file
from db.models import Order, OrderItem
from tests.e2e.offline import ARTIFACTS, open_offline, serve_data

pytestmark = pytest.mark.e2e

OUTSIDE = "198.51.100.7"  # TEST-NET-2: never routed; every request to it is blocked and recorded
LONG = '=HYPERLINK("http://198.51.100.7/z","点我")' + "很长的门店名称" * 12
STORES = [  # (门店名称, 城市)
    (f"![t](http://{OUTSIDE}/x.png)", "<b>粗体</b>"),
    (f"<img src=http://{OUTSIDE}/y.png onerror=alert(1)>", f'<a href="http://{OUTSIDE}">链接</a>'),
    ("<b>粗体</b>", "&lt;b&gt;"),
    ("[链接](javascript:alert(2))\n换行", "<script>alert(3)</script>"),
    (LONG, f'<span style="fill:url(http://{OUTSIDE}/f)">城</span>'),
]
CHANNELS = {  # at most 32 characters (orders.channel)
    "美团闪购": "<b>粗体</b>渠道", "饿了么": f"![c](http://{OUTSIDE}/c.png)",
    "京东到家": "<img src=x onerror=alert(5)>", "抖音": "[链接](javascript:alert(6))", "小程序": "&lt;b&gt;渠道",
    "收银机": "<script>alert(7)</script>",
}  # fmt: skip
FEE_CHANNELS = tuple(CHANNELS[c] for c in ("美团闪购", "饿了么", "京东到家", "抖音"))
PRODUCT_PREFIXES = ["<b>粗体</b>", f"![p](http://{OUTSIDE}/p.png)", "<img src=x onerror=alert(8)>",
                    f'<a href="http://{OUTSIDE}">链接</a>', "&lt;b&gt;", "<i>斜体</i>\n"]  # fmt: skip
CATEGORIES = ["<b>粗体</b>类", f"![k](http://{OUTSIDE}/k.png)", "<img src=x onerror=alert(9)>",
              f'<a href="http://{OUTSIDE}">链接</a>类', "&lt;b&gt;类", "<script>alert(10)</script>",
              "<sup>上</sup>类", "=HYPERLINK(\"http://198.51.100.7\")", "<br>换<br>行"]  # fmt: skip
ORDER_PREFIXES = ["<b>单</b>", f"![o](http://{OUTSIDE}/o.png)", '=HYPERLINK("x")', ""]
# what markup made from the names would put alone in an element (a literal name keeps its tags)
INNER_TEXTS = ["粗体", "粗体渠道", "粗体类", "链接", "链接类", "城", "斜体", "上", "单", "t", "c", "p", "k", "o"]

# Every element of the page, SVG included: what the names must not have created.
FIND_MARKUP = """([outside, inner]) => {
    const found = [];
    const urlAttrs = ["src", "href", "xlink:href", "srcset", "action", "formaction", "poster", "background"];
    for (const el of document.querySelectorAll("*")) {
        const tag = el.localName;
        for (const attr of el.attributes) {
            const name = attr.name.toLowerCase(), value = attr.value.trim().toLowerCase();
            if (name.startsWith("on")) found.push(`${tag}[${name}]`);
            if (urlAttrs.includes(name) && (value.startsWith("javascript:") || value.includes("//" + outside)
                                            || (tag === "img" && !value.startsWith("data:")))) {
                found.push(`${tag}[${name}=${value}]`);
            }
            if (name === "style" && value.includes(outside)) found.push(`${tag}[style=${value}]`);
        }
        if (tag === "script" && el.textContent.includes("alert(")) found.push("script: " + el.textContent);
        if (["b", "strong", "i", "em", "a", "sup", "tspan", "img"].includes(tag)
            && inner.includes(el.textContent.trim())) {
            found.push(`<${tag}>${el.textContent.trim()}</${tag}>`);
        }
    }
    return found;
}"""
READY = ", ".join(f"#_pages_content {r}" for r in (".ag-root", ".js-plotly-plot", ".alert", "h3"))
BUSY = "!!document.querySelector('[data-dash-is-loading=\"true\"]')"


def _settle(page) -> None:
    """Once a section has rendered: until nothing is loading and the page's text has not changed
    for 1.2 s (a section may render twice)."""
    page.wait_for_selector(READY, state="attached", timeout=30000)
    history: list[str | None] = []
    for _ in range(150):
        page.wait_for_timeout(400)
        history.append(None if page.evaluate(BUSY) else page.locator("#_pages_content").inner_text())
        if len(history) >= 4 and history[-1] is not None and len(set(history[-4:])) == 1:
            return
    raise AssertionError(f"{page.url} did not settle")


def _hostile_export(root: Path) -> Path:
    """5 stores × 21 days of the demo with every free-text column rewritten, as one CSV the
    importer reads (quoted cells: the names hold commas, quotes and line breaks)."""
    lines, _ = generate_orders(DemoSpec(stores=5, days=21, seed=11))
    [plain] = write_exports(lines, root / "plain", fmt="csv")
    frame = pd.read_csv(plain, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    names = sorted(frame["门店名称"].unique())
    frame["城市"] = frame["门店名称"].map({n: city for n, (_, city) in zip(names, STORES, strict=True)})
    frame["门店名称"] = frame["门店名称"].map({n: name for n, (name, _) in zip(names, STORES, strict=True)})
    frame["渠道"] = frame["渠道"].map(CHANNELS)
    products = sorted(frame["商品名称"].unique())
    frame["商品名称"] = frame["商品名称"].map(
        {n: PRODUCT_PREFIXES[i % len(PRODUCT_PREFIXES)] + n for i, n in enumerate(products)}
    )
    categories = sorted(set(frame["一级分类名"]) - {"耗材"})  # 耗材 keeps its meaning (left out of SKUs)
    frame["一级分类名"] = frame["一级分类名"].replace(dict(zip(categories, CATEGORIES, strict=False)))
    frame["三级分类名"] = "<b>三级</b>"
    frame["门店加盟类型"] = "<b>加盟</b>"
    frame["配送平台"] = frame["配送平台"].where(frame["配送平台"] == "", f"![d](http://{OUTSIDE}/d.png)")
    order_ids = sorted(frame["订单ID"].unique())
    frame["订单ID"] = frame["订单ID"].map(
        {o: ORDER_PREFIXES[i % len(ORDER_PREFIXES)] + o for i, o in enumerate(order_ids)}
    )
    path = root / "hostile.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


@pytest.fixture(scope="module")
def hostile_site(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    export = _hostile_export(root)

    def load(engine, settings):
        result = import_file(engine, export, settings)
        assert result.status == "imported", result.message

    with serve_data(root, load, fee_channels=FEE_CHANNELS) as site:
        channel = CHANNELS["美团闪购"]
        engine = make_engine(f"sqlite:///{root / 'o2o.sqlite3'}")
        with engine.connect() as conn:  # the channel's latest order: inside the default period
            order_id, product_id = conn.execute(
                select(Order.id, OrderItem.product_id).join(OrderItem, OrderItem.order_id == Order.id)
                .where(Order.channel == channel).order_by(Order.ordered_at.desc()).limit(1)
            ).one()  # fmt: skip
        engine.dispose()
        yield site, {"channel": channel, "order": order_id, "product": product_id}


def _texts(page, selector: str) -> list[str]:
    """The text of every element ``selector`` matches (SVG text included), as the browser has it."""
    return page.evaluate("(s) => Array.from(document.querySelectorAll(s)).map(e => e.textContent)", selector)


def _diagnosis(page) -> None:
    assert "<b>粗体</b>" in _texts(page, f"#{ids.DIAG_HEALTH} .ag-cell")  # the store link's text
    links = _texts(page, f"#{ids.DIAG_TODO} a.todo-link") + _texts(page, f"#{ids.DIAG_TODO} .ag-cell a")
    assert any(link.startswith(tuple(PRODUCT_PREFIXES)) for link in links), links[:10]


def _overview(page) -> None:
    """Names literal in the grid, the city chart's ticks and hover, and the CSV download."""
    cells = _texts(page, f"#{ids.OVERVIEW_BODY} .ag-cell")
    assert "<b>粗体</b>" in cells and f"![t](http://{OUTSIDE}/x.png)" in cells, cells[:20]
    assert "&lt;b&gt;" in cells  # an entity in the data is not decoded either
    links = _texts(page, f"#{ids.OVERVIEW_BODY} .ag-cell a[href^='/?stores=']")  # each opens its diagnosis
    assert sorted(links) == sorted(name for name, _ in STORES)
    ticks = _texts(page, "#overview-cities .xtick text")
    assert {"<b>粗体</b>", "&lt;b&gt;", f'<a href="http://{OUTSIDE}">链接</a>'} <= set(ticks), ticks
    bar = page.locator("#overview-cities .point path").first.bounding_box()  # under plotly's drag layer
    page.mouse.move(bar["x"] + bar["width"] / 2, bar["y"] + bar["height"] / 2)
    page.wait_for_selector("#overview-cities .hoverlayer text", timeout=5000)
    hover = " ".join(_texts(page, "#overview-cities .hoverlayer text"))
    assert any(city in hover for _, city in STORES) and "实收：" in hover, hover  # the trace's name, substituted
    with page.expect_download() as download:
        page.locator(f"#{ids.OVERVIEW_BODY} button", has_text="下载 CSV").first.click()
    rows = list(csv.reader(io.StringIO(download.value.path().read_text(encoding="utf-8-sig"))))
    assert {r[0] for r in rows[1:]} == {"'" + name if name.startswith("=") else name for name, _ in STORES}


def _product_focus(page) -> None:
    page.wait_for_selector("#products-focus .gtitle", state="attached", timeout=30000)
    title = page.locator("#products-focus-title").inner_text()
    assert title.removeprefix("商品：").startswith(tuple(p.strip() for p in PRODUCT_PREFIXES)), title
    assert _texts(page, "#products-focus .gtitle")[0].startswith(title.removeprefix("商品：")[:6])
    assert "<b>粗体</b>类" in _texts(page, f"#{ids.PRODUCTS_BODY} .legendtext")


def _channel_drill(page) -> None:
    page.wait_for_selector(f"#{ids.CHANNELS_ORDER} .ag-cell", state="attached", timeout=30000)
    assert "<b>粗体</b>渠道" in _texts(page, "#channels-chart .xtick text")
    assert "<b>粗体</b>渠道" in page.locator(f"#{ids.CHANNELS_ORDER} .card-title").inner_text()
    assert any("<b>单</b>" in c for c in _texts(page, f"#{ids.CHANNELS_ORDERS} .ag-cell"))


def _visits(site, drill: dict) -> list[tuple[str, object]]:
    """(URL, what it must show literally): every registered page with every store chosen, and
    the views that show one name more (a SKU's focus, the drill-down to one order)."""
    chosen = ",".join(str(s["id"]) for s in site.stores)
    checks = {"/": _diagnosis, "/overview": _overview}
    visits = [(f"{page['path']}?stores={chosen}", checks.get(page["path"])) for page in dash.page_registry.values()]
    query = urlencode({"stores": chosen, "channel": drill["channel"], "product": drill["product"],
                       "order": drill["order"]})  # fmt: skip
    return [
        *visits,
        (f"/products?stores={chosen}&sku={drill['product']}", _product_focus),
        (f"/channels?{query}", _channel_drill),
    ]


def test_e2e401_imported_names_are_text_on_every_page(hostile_site, browser):
    site, drill = hostile_site
    context, page, _errors, blocked = open_offline(browser, accept_downloads=True)
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    local_odd: list[str] = []  # <img src=x> asks the app itself for /x
    page.on("request", lambda r: local_odd.append(r.url) if r.url.rstrip("/").endswith("/x") else None)
    markup: dict[str, list[str]] = {}  # view → elements made from the names
    unreadable: dict[str, str] = {}  # view → the name it did not show as written
    visits = _visits(site, drill)
    for path, check in visits:
        page.goto(site.base + path, wait_until="load")
        _settle(page)
        for summary in page.locator("details > summary").all():  # 今日必做: 展开 and 明细表
            summary.click()
        page.wait_for_timeout(300)
        try:
            if check:
                check(page)
        except AssertionError as exc:
            unreadable[path] = str(exc)[:300]
        found = page.evaluate(FIND_MARKUP, [OUTSIDE, INNER_TEXTS])
        if found:
            markup[path] = found
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "hostile-channels.png"), full_page=True)
    context.close()
    elements = sum(len(v) for v in markup.values())
    print(
        f"hostile names: {len(visits)} views, {len(blocked)} outside requests, {elements} markup elements, "
        f"{len(dialogs)} dialogs, {len(local_odd)} requests for /x, {len(unreadable)} views not literal"
    )
    assert len(visits) == len(dash.page_registry) + 2
    assert markup == {}, markup
    assert blocked == [] and dialogs == [] and local_odd == [], (blocked, dialogs, local_odd)
    assert unreadable == {}, unreadable
