"""Thresholds of the 今日必做 rules (docs/METRICS.md §5)."""

TRAFFIC_DROP_THRESHOLD = 0.30  # orders of the last 7 days this much below the 7 before
MARGIN_DECLINE_POINTS = 0.10  # margin of the last 7 days this many points below the 7 before
BELOW_COST_DAYS = 3  # window of the price-anomaly rule
SKU_RULES_MAX_STORES = 5  # SKU-level rules run when at most this many stores are selected
SKU_HISTORY_DAYS = 60  # history read for SKU rules (slow movers up to 15+ days need it)
MAX_ITEMS_PER_RULE = 20  # items kept per rule and level (the group's count and total cover all)
SHOWN_ITEMS_PER_RULE = 3  # items shown per rule before 展开 (the largest amounts first)
COSTLY_DELIVERY_FEE = 6.0  # 物流配送费 above this (元) with profit below the fee: 高配送成本
STOCKOUT_DAYS_OF_COVER = 1.0  # 热销缺货 needs the last reported 剩余库存 below this many days of sales
# 🔴 紧急 only for a finding that lost or puts at risk at least this much money (元); the rule's
# smaller findings are 🟡 关注. On the demo (100 stores) 95 % of the day's loss orders lose less.
URGENT_MIN_AMOUNT = 10.0
HOT_GROWTH = 0.50  # 热销: the last 7 days sold more than (1 + this) × the 7 days before
HOT_MIN_UNITS = 10  # 热销: at least this many units in the last 7 days
HOT_MIN_BASE_UNITS = 10  # 热销: at least this many units in the 7 days before (no growth rate on 1 → 19)
TOP_PROFIT_SKUS = 3  # 利润贡献: each store's SKUs with the highest profit over the last 7 days
SKU_EVIDENCE_DAYS = 28  # a SKU item's link opens 商品分析 on the 28 days ending the 今日必做 day
