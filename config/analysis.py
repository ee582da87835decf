"""Thresholds of the analysis pages (docs/METRICS.md §6–7). Page controls override the splits."""

# 商品分析 quadrant: a product is "high 动销" at or above this sell-through (sales store-days /
# (days × stores selling it)) and "high margin" at or above this 商品毛利率.
QUADRANT_SELL_THROUGH_SPLIT = 0.5
QUADRANT_MARGIN_SPLIT = 0.25
PRODUCT_ROWS = 500  # product rows sent to the browser (sorted by 实收; exports carry the same rows)

# 渠道健康度: (good, bad) per ratio; 0 points at bad, 100 at good (analytics.breakdowns.channel_table)
CHANNEL_RATING = {
    "profit_margin": (0.15, 0.0),
    "commission_rate": (0.05, 0.15),
    "marketing_rate": (0.05, 0.20),
    "delivery_rate": (0.02, 0.12),
}
DRILL_ORDER_ROWS = 200  # orders listed in a drill-down (the count shows the rest)
ABNORMAL_ORDER_ROWS = 200
