"""Component ids, one constant each (pages and tests import them from here, never retype)."""

from dataclasses import dataclass

from dash import Input

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


@dataclass(frozen=True)
class PageIds:
    """Component ids of one page's filter bar, derived from the page's short name."""

    page: str

    @property
    def store(self) -> str:
        return f"{self.page}-store-filter"

    @property
    def date(self) -> str:
        return f"{self.page}-date-filter"

    @property
    def channel(self) -> str:
        return f"{self.page}-channel-filter"

    @property
    def url(self) -> str:
        return f"{self.page}-url"

    @property
    def url_state(self) -> str:
        """dcc.Store of the query string the filters shown stand for (Back/Forward compares with it)."""
        return f"{self.page}-url-state"

    @property
    def stale(self) -> str:
        """The strip that says the database does not answer and the data shown may be stale."""
        return f"{self.page}-stale"

    def inputs(self) -> tuple[Input, ...]:
        return (Input(self.store, "value"), Input(self.date, "start_date"), Input(self.date, "end_date"),
                Input(self.channel, "value"))  # fmt: skip


# Filter bars (PageIds: store/date/channel/url ids) and sections
DIAGNOSIS = PageIds("diagnosis")  # same ids as DIAG_*_FILTER / DIAG_URL above
OVERVIEW = PageIds("overview")
OVERVIEW_BODY = "overview-body"
PRODUCTS = PageIds("products")
PRODUCTS_SELL_SPLIT = "products-sell-split"
PRODUCTS_MARGIN_SPLIT = "products-margin-split"
PRODUCTS_BODY = "products-body"
PRODUCTS_SKU = "products-sku"  # dcc.Store of the SKU named by ?sku= (a 今日必做 link)
PRODUCTS_FOCUS = "products-focus"
TIME = PageIds("time")
TIME_MEASURE = "time-measure"
TIME_BODY = "time-body"
CHANNELS = PageIds("channels")
CHANNELS_BODY = "channels-body"
CHANNELS_DRILL_CHANNEL = "channels-drill-channel"  # dcc.Store of the drill-down path (channel → SKU → order)
CHANNELS_DRILL_PRODUCT = "channels-drill-product"
CHANNELS_DRILL_ORDER = "channels-drill-order"
CHANNELS_SKUS = "channels-skus"
CHANNELS_ORDERS = "channels-orders"
CHANNELS_ORDER = "channels-order-detail"
CHANNELS_ORDER_SHOWN = "channels-order-shown"  # output of the scroll-into-view clientside callback
CHANNELS_ABNORMAL = "channels-abnormal"
DISTANCE = PageIds("distance")
DISTANCE_BODY = "distance-body"
DISTANCE_NO_DISTANCE = "distance-no-distance"  # the orders without a distance, apart from the bands
DIAG_ABNORMAL = "diagnosis-abnormal"

# 数据管理 (/data)
DATA_PAGE = "data"  # page key of the history grid's pattern ids (components.grid)
DATA_DROP = "data-drop"  # the drop zone; assets/data_upload.js streams what lands there
DATA_CHOOSE = "data-choose"  # 选择文件 (opens the browser's file chooser)
DATA_UPLOADS = "data-upload-list"  # one row per file being sent, filled by the script only
DATA_UPLOADED = "data-uploaded"  # hidden button the script clicks when a file has been sent
DATA_TICK = "data-tick"
DATA_JOBS = "data-jobs"
DATA_JOBS_SIG = "data-jobs-sig"  # what the job list shows (unchanged: not rendered again)
DATA_CHANGED = "data-changed"  # bumped by a job action: refresh the list at once
DATA_MESSAGE = "data-message"
DATA_SELECTED = "data-selected"  # the job whose preview and report are shown
DATA_SELECTED_SIG = "data-selected-sig"  # its status etc.: the detail is rendered again on change
DATA_DETAIL = "data-detail"
DATA_DETAIL_BODY = "data-detail-body"  # the rendered detail, carrying data-job
DATA_ACTION = "data-action"  # pattern {type, action, job, where}: 查看 / 导入 / 删除 / 重新校验 …
DATA_MAP_FIELD = "data-map-field"  # pattern {type, field}: the file column feeding a field
DATA_MAP_SAVED = "data-map-saved"  # pattern {type}: the saved mapping to apply
DATA_MAP_NAME = "data-map-name"  # pattern {type}: the name to save the mapping as
DATA_HISTORY = "data-history"
DATA_HISTORY_SIG = "data-history-sig"  # the jobs' statuses: a finished job reloads the history
DATA_HISTORY_CHANGED = "data-history-changed"  # bumped by 撤销 / 移除演示数据
DATA_HISTORY_MESSAGE = "data-history-message"
DATA_REMOVE_DEMO = "data-remove-demo"
DATA_CONFIRM = "data-confirm"  # the confirm dialog (dbc.Modal)
DATA_CONFIRM_BODY = "data-confirm-body"
DATA_CONFIRM_TARGET = "data-confirm-target"  # "undo:<batch id>" or "demo"
DATA_CONFIRM_OK = "data-confirm-ok"
DATA_CONFIRM_CANCEL = "data-confirm-cancel"
