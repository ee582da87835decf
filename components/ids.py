"""Component ids, one constant each (pages and tests import them from here, never retype)."""

# 门店诊断 (/)
MONITOR_SLOT = "monitor-panel-slot"
DIAG_STORE_FILTER = "diagnosis-store-filter"
DIAG_DATE_FILTER = "diagnosis-date-filter"
DIAG_CHANNEL_FILTER = "diagnosis-channel-filter"
DIAG_KPI_CONTAINER = "diagnosis-kpi-cards"

# 系统监控面板 (component, shown on /)
MONITOR_INTERVAL = "monitor-interval-component"
MONITOR_CARDS = "monitor-cards"
MONITOR_DETAILS = "monitor-details"
MONITOR_TOGGLE = "monitor-details-toggle"
MONITOR_COLLAPSE = "monitor-details-collapse"

# 系统监控 (/system)
SYSTEM_INTERVAL = "system-interval"
SYSTEM_CHARTS = "system-charts"
SYSTEM_TABLES = "system-tables"
DIAG_TODO = "diagnosis-todo"
DIAG_TREND = "diagnosis-trend"
DIAG_HEALTH = "diagnosis-health"
DIAG_URL = "diagnosis-url"
