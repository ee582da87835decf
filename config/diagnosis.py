"""Thresholds of the 今日必做 rules (docs/METRICS.md §5)."""

TRAFFIC_DROP_THRESHOLD = 0.30  # orders of the last 7 days this much below the 7 before
MARGIN_DECLINE_POINTS = 0.10  # margin of the last 7 days this many points below the 7 before
BELOW_COST_DAYS = 3  # window of the price-anomaly rule
SKU_RULES_MAX_STORES = 5  # SKU-level rules run when at most this many stores are selected
SKU_HISTORY_DAYS = 60  # history read for SKU rules (slow movers up to 15+ days need it)
MAX_ITEMS_PER_RULE = 10  # items listed per rule on the page (the count shows the rest)
COSTLY_DELIVERY_FEE = 6.0  # 物流配送费 above this (元) with profit below the fee: 高配送成本
STOCKOUT_DAYS_OF_COVER = 1.0  # 热销缺货 needs the last reported 剩余库存 below this many days of sales
