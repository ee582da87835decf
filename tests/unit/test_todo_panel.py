"""今日必做 panel: item links carry the filters of the view with their evidence; the flat table."""

from urllib.parse import parse_qs, urlparse

from components.format import money
from components.todo_panel import todo_card, todo_rows
from config.rules import RuleSettings
from pages._links import item_href

RULES = RuleSettings().todo  # compare 7 days with the 7 before; SKU evidence over 28 days

AS_OF = "2026-11-27"
ORDER = {"rule": "loss_orders", "level": "urgent", "kind": "order", "store_id": 3, "store": "测试店",
         "order_id": 42, "channel": "美团闪购", "object": "2700000001", "amount": 14.63,
         "facts": {"actual_profit": -14.63, "delivery_fee": 9.09, "items_revenue": 73.74}}  # fmt: skip
SKU = {"rule": "slow", "level": "watch", "kind": "sku", "store_id": 3, "store": "测试店", "product_id": 7,
       "object": "菠萝切块 200g", "amount": None,
       "facts": {"idle_days": 4, "bucket": "3-6天", "selling_days": 9, "last_sale": "2026-11-23"}}  # fmt: skip
STORE = {"rule": "traffic_drop", "level": "watch", "kind": "store", "store_id": 3, "store": "测试店",
         "object": "测试店", "amount": 10243.1,
         "facts": {"orders_recent": 213.0, "orders_previous": 407.0, "drop_ratio": 0.4767}}  # fmt: skip


def _link(href: str) -> tuple[str, dict]:
    """(path, parameters): a parameter given once as its text, a repeated one as its list."""
    url = urlparse(href)
    return url.path, {k: v[0] if len(v) == 1 else v for k, v in parse_qs(url.query).items()}


def test_todo001_item_links_name_the_evidence_with_the_filters():
    channels = ["美团闪购", "饿了么"]
    assert _link(item_href(ORDER, AS_OF, channels, RULES)) == ("/channels", {
        "stores": "3", "start": AS_OF, "end": AS_OF, "channels": ["美团闪购", "饿了么"], "channel": "美团闪购",
        "order": "42"})  # fmt: skip
    # a SKU: 商品分析 on its store over the 28 days ending the 今日必做 day (10-31 … 11-27)
    assert _link(item_href(SKU, AS_OF, ["all"], RULES)) == ("/products", {
        "stores": "3", "start": "2026-10-31", "end": AS_OF, "sku": "7"})  # fmt: skip
    # a store: its diagnosis over the two weeks its rules compare (11-14 … 11-27)
    assert _link(item_href(STORE, AS_OF, None, RULES)) == ("/", {"stores": "3", "start": "2026-11-14", "end": AS_OF})


def test_todo002_flat_table_and_money_formatting():
    todo = {"as_of": AS_OF, "sku_rules": True, "highlights": [],
            "urgent": [{"rule": "loss_orders", "level": "urgent", "count": 1, "amount": 14.63, "items": [ORDER]}],
            "watch": [{"rule": "traffic_drop", "level": "watch", "count": 1, "amount": 10243.1, "items": [STORE]},
                      {"rule": "slow", "level": "watch", "count": 1, "amount": None, "items": [SKU]}]}  # fmt: skip
    def href(item):
        return item_href(item, AS_OF, None, RULES)

    rows = todo_rows(todo, href, RULES)
    assert [(r["level"], r["rule"], r["store"], r["amount"]) for r in rows] == [
        ("紧急", "穿底订单", "测试店", 14.63), ("关注", "单量下滑", "测试店", 10243.1),
        ("关注", "滞销", "测试店", None)]  # fmt: skip
    assert (rows[0]["object"], rows[0]["object_href"]) == ("2700000001", item_href(ORDER, AS_OF, None, RULES))
    # money through format.money (its sign convention is format.py's), never "¥-14.63"
    loss = money(-14.63)
    assert rows[0]["evidence"] == f"美团闪购，实际利润 {loss}，物流配送费 ¥9.09，商品实收 ¥73.74"
    assert rows[1]["evidence"] == "近7天 213 单，前7天 407 单，下降 47.7%"
    text = str(todo_card(todo, href, RULES))
    assert f"亏损 {money(14.63)}" in text and f"实收减少 {money(10243.1)}" in text
    assert "¥-" not in text


def test_todo003_margin_points_round_half_up_like_every_figure():
    # 12.5 % → 11.25 %: a decline of 1.25 points reads 1.3 (half-up, as components/format.py and
    # the grids round), not Python's round-half-even "1.2"
    from components.todo_panel import evidence

    item = {"rule": "margin_decline", "facts": {"recent_margin": 0.1125, "previous_margin": 0.125,
                                                "decline": 0.0125}}  # fmt: skip
    assert evidence(item, RULES) == "利润率近7天 11.3%，前7天 12.5%，下降 1.3个百分点"
