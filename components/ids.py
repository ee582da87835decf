"""Component ids, one constant each (pages and tests import them from here, never retype)."""

# 门店诊断 (/)
MONITOR_SLOT = "monitor-panel-slot"
DIAG_STORE_FILTER = "diagnosis-store-filter"
DIAG_DATE_FILTER = "diagnosis-date-filter"
DIAG_CHANNEL_FILTER = "diagnosis-channel-filter"
DIAG_KPI_CONTAINER = "diagnosis-kpi-cards"
