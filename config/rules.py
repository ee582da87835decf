"""Every business rule threshold and parameter: one frozen, typed :class:`RuleSettings`.

Precedence as for :class:`config.settings.Settings`: explicit argument
(``RuleSettings.from_env(env, urgent_min_amount=5.0)``, ``Settings.from_env(rules=...)`` or
``dataclasses.replace``) > environment variable ``O2O_RULE_<FIELD>`` > the default below. Field
names are unique across the groups, so one flat name addresses each value. docs/METRICS.md §10
lists every one with its Chinese meaning; the settings reach the analytics as explicit
arguments (the analytics functions have no defaults of their own) and the pages word them from
the same object. A bad value raises :class:`SettingsError` naming the variable.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

import orjson

from config.errors import SettingsError

ENV_PREFIX = "O2O_RULE_"


def _param(default, zh: str, low: float | None = None, high: float | None = None):
    """A rule field: its default, Chinese meaning (docs) and inclusive bounds (validation)."""
    return field(default=default, metadata={"zh": zh, "low": low, "high": high})


def env_var(name: str) -> str:
    return f"{ENV_PREFIX}{name.upper()}"


@dataclass(frozen=True)
class _Group:
    """Checks every field against its bounds, then the group's own consistency rules."""

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            low, high = f.metadata.get("low"), f.metadata.get("high")
            for item in value if isinstance(value, tuple) else (value,):
                if (low is not None and item < low) or (high is not None and item > high):
                    bounds = f"{low:g}..{high:g}" if high is not None else f"≥ {low:g}"
                    raise SettingsError(f"{env_var(f.name)}={_text(value)}: 超出范围 {bounds} (out of range)")
            if isinstance(value, tuple) and any(b <= a for a, b in itertools.pairwise(value)):
                raise SettingsError(f"{env_var(f.name)}={_text(value)}: 应严格递增 (must increase)")
        self.check()

    def check(self) -> None:
        """Cross-field rules of the group (raise SettingsError naming a variable)."""


def _text(value) -> str:
    return repr(",".join(f"{v:g}" for v in value)) if isinstance(value, tuple) else repr(f"{value:g}")


def _require(ok: bool, name: str, value, message: str) -> None:
    if not ok:
        raise SettingsError(f"{env_var(name)}={_text(value)}: {message}")


@dataclass(frozen=True)
class TodoRules(_Group):
    """今日必做 (docs/METRICS.md §5)."""

    compare_days: int = _param(7, "单量/利润率下滑、热销、利润贡献比较的窗口：近 N 天对比前 N 天", 1, 90)
    traffic_drop_threshold: float = _param(0.30, "单量下滑：近 N 天单量比前 N 天至少低这个比例", 0.0, 1.0)
    margin_decline_points: float = _param(0.10, "利润率下滑：近 N 天利润率比前 N 天低超过这么多（0.10 = 10 个百分点）",
                                          0.0, 1.0)  # fmt: skip
    costly_delivery_fee: float = _param(6.0, "高配送成本：物流配送费高于此金额（元）且实际利润低于配送费", 0.0, None)
    urgent_min_amount: float = _param(10.0, "紧急：亏损或预计损失不低于此金额（元），否则列为关注", 0.0, None)
    below_cost_days: int = _param(3, "价格异常：比较实收与成本的天数", 1, 60)
    sku_rules_max_stores: int = _param(5, "商品级规则（及滞销商品）在选择不超过这么多家门店时运行", 1, 1000)
    sku_history_days: int = _param(60, "商品级规则读取的历史天数", 14, 730)
    slow_min_idle_days: int = _param(3, "滞销：至少这么多天无销售", 1, 365)
    slow_min_selling_days: int = _param(3, "滞销：此前至少有这么多天有销售", 1, 365)
    slow_bucket_days: tuple[int, ...] = _param((7, 15), "滞销分档的起点（天）：3–6 / 7–14 / 15+", 2, 365)
    new_sku_days: int = _param(7, "新品：最近这么多天内首次销售（数据需覆盖两倍天数）", 1, 90)
    stockout_top_n: int = _param(10, "热销缺货：缺货前基准期销量排名前 N 的商品", 1, 1000)
    stockout_min_zero_days: int = _param(2, "热销缺货：至少连续这么多天无销售", 1, 90)
    stockout_max_zero_days: int = _param(14, "热销缺货：至多连续这么多天无销售（更长算滞销）", 1, 90)
    stockout_baseline_days: int = _param(14, "热销缺货：缺货前的基准期天数", 1, 90)
    stockout_alpha: float = _param(0.001, "热销缺货：按泊松分布偶然出现这段无销售的概率低于此值", 0.0, 1.0)
    stockout_days_of_cover: float = _param(1.0, "热销缺货：最后剩余库存低于这么多天的基准销量才算缺货", 0.0, None)
    hot_growth: float = _param(0.50, "热销：近 N 天销量超过前 N 天的 (1 + 此值) 倍", 0.0, None)
    hot_min_units: int = _param(10, "热销：近 N 天至少卖出这么多件", 1, None)
    hot_min_base_units: int = _param(10, "热销：前 N 天至少卖出这么多件", 1, None)
    top_profit_skus: int = _param(3, "利润贡献：每家门店近 N 天利润最高的商品数", 1, 100)
    max_items_per_rule: int = _param(20, "每条规则每个级别保留的事项数（数量与合计覆盖全部）", 1, 1000)
    shown_items_per_rule: int = _param(3, "每条规则展开前显示的事项数", 1, 100)
    sku_evidence_days: int = _param(28, "商品事项链接打开的商品分析天数", 1, 365)

    def check(self) -> None:
        _require(self.stockout_max_zero_days >= self.stockout_min_zero_days, "stockout_max_zero_days",
                 self.stockout_max_zero_days, "应不小于 O2O_RULE_STOCKOUT_MIN_ZERO_DAYS")  # fmt: skip
        _require(len(self.slow_bucket_days) == 2 and self.slow_bucket_days[0] > self.slow_min_idle_days,
                 "slow_bucket_days", self.slow_bucket_days,
                 "应为两个递增天数，且大于 O2O_RULE_SLOW_MIN_IDLE_DAYS")  # fmt: skip
        _require(self.shown_items_per_rule <= self.max_items_per_rule, "shown_items_per_rule",
                 self.shown_items_per_rule, "应不大于 O2O_RULE_MAX_ITEMS_PER_RULE")  # fmt: skip
        _require(self.sku_history_days >= 2 * self.compare_days, "sku_history_days", self.sku_history_days,
                 "应不小于两倍 O2O_RULE_COMPARE_DAYS")  # fmt: skip


@dataclass(frozen=True)
class HealthRules(_Group):
    """门店健康分 weights (docs/METRICS.md §6); they sum to 1."""

    health_weight_margin: float = _param(0.40, "健康分权重：利润率", 0.0, 1.0)
    health_weight_volume: float = _param(0.20, "健康分权重：单量", 0.0, 1.0)
    health_weight_marketing: float = _param(0.20, "健康分权重：营销成本率（越低越好）", 0.0, 1.0)
    health_weight_delivery: float = _param(0.20, "健康分权重：配送成本率（越低越好）", 0.0, 1.0)

    @property
    def weights(self) -> dict[str, float]:
        """component → weight (analytics.health.COMPONENTS names)."""
        return {"margin": self.health_weight_margin, "volume": self.health_weight_volume,
                "marketing_rate": self.health_weight_marketing,
                "delivery_rate": self.health_weight_delivery}  # fmt: skip

    def check(self) -> None:
        _require(abs(sum(self.weights.values()) - 1) < 1e-9, "health_weight_margin", self.health_weight_margin,
                 "健康分四项权重之和应为 1 (weights must sum to 1)")  # fmt: skip


@dataclass(frozen=True)
class ChannelRules(_Group):
    """渠道健康度 (docs/METRICS.md §7): each ratio earns 0 points at *bad*, 100 at *good*."""

    channel_margin_good: float = _param(0.15, "渠道评分：利润率满分值", -1.0, 1.0)
    channel_margin_bad: float = _param(0.0, "渠道评分：利润率零分值", -1.0, 1.0)
    channel_commission_good: float = _param(0.05, "渠道评分：佣金率满分值", 0.0, 1.0)
    channel_commission_bad: float = _param(0.15, "渠道评分：佣金率零分值", 0.0, 1.0)
    channel_marketing_good: float = _param(0.05, "渠道评分：营销成本率满分值", 0.0, 1.0)
    channel_marketing_bad: float = _param(0.20, "渠道评分：营销成本率零分值", 0.0, 1.0)
    channel_delivery_good: float = _param(0.02, "渠道评分：配送成本率满分值", 0.0, 1.0)
    channel_delivery_bad: float = _param(0.12, "渠道评分：配送成本率零分值", 0.0, 1.0)
    channel_weight_margin: float = _param(0.40, "渠道评分权重：利润率", 0.0, 1.0)
    channel_weight_commission: float = _param(0.20, "渠道评分权重：佣金率", 0.0, 1.0)
    channel_weight_marketing: float = _param(0.20, "渠道评分权重：营销成本率", 0.0, 1.0)
    channel_weight_delivery: float = _param(0.20, "渠道评分权重：配送成本率", 0.0, 1.0)
    channel_rating_cutoffs: tuple[float, ...] = _param((25.0, 50.0, 75.0), "渠道评级分界：中 / 良 / 优 的最低分",
                                                       0.0, 100.0)  # fmt: skip
    drill_order_rows: int = _param(200, "渠道下钻列出的订单数", 1, 10_000)
    abnormal_order_rows: int = _param(200, "异常订单列出的订单数", 1, 10_000)

    @property
    def thresholds(self) -> dict[str, tuple[float, float]]:
        """ratio → (good, bad)."""
        return {"profit_margin": (self.channel_margin_good, self.channel_margin_bad),
                "commission_rate": (self.channel_commission_good, self.channel_commission_bad),
                "marketing_rate": (self.channel_marketing_good, self.channel_marketing_bad),
                "delivery_rate": (self.channel_delivery_good, self.channel_delivery_bad)}  # fmt: skip

    @property
    def weights(self) -> dict[str, float]:
        return {"profit_margin": self.channel_weight_margin, "commission_rate": self.channel_weight_commission,
                "marketing_rate": self.channel_weight_marketing,
                "delivery_rate": self.channel_weight_delivery}  # fmt: skip

    @property
    def ratings(self) -> tuple[tuple[float, str], ...]:
        """(lowest score, label), best first; 差 below the lowest cutoff."""
        fair, good, excellent = self.channel_rating_cutoffs
        return (excellent, "优"), (good, "良"), (fair, "中"), (-float("inf"), "差")

    def check(self) -> None:
        for name in ("margin", "commission", "marketing", "delivery"):
            good = getattr(self, f"channel_{name}_good")
            _require(good != getattr(self, f"channel_{name}_bad"), f"channel_{name}_good", good,
                     "满分值与零分值不能相同 (good must differ from bad)")  # fmt: skip
        _require(abs(sum(self.weights.values()) - 1) < 1e-9, "channel_weight_margin", self.channel_weight_margin,
                 "渠道评分四项权重之和应为 1 (weights must sum to 1)")  # fmt: skip
        _require(len(self.channel_rating_cutoffs) == 3, "channel_rating_cutoffs", self.channel_rating_cutoffs,
                 "应为三个递增分数 (three increasing scores)")  # fmt: skip


@dataclass(frozen=True)
class ProductRules(_Group):
    """商品分析 (docs/METRICS.md §7)."""

    quadrant_sell_through_split: float = _param(0.5, "象限默认分界：动销率（页面可调）", 0.0, 1.0)
    quadrant_margin_split: float = _param(0.25, "象限默认分界：毛利率（页面可调）", 0.0, 1.0)
    abc_shares: tuple[float, ...] = _param((0.80, 0.95), "ABC 分界：A 类、B 类累计实收占比上限", 0.0, 1.0)
    price_band_edges: tuple[float, ...] = _param((10.0, 20.0, 30.0, 40.0, 50.0, 100.0, 200.0),
                                                 "价格带分界（元，平均实收单价）", 0.0, None)  # fmt: skip
    price_group_edges: tuple[float, ...] = _param((15.0, 30.0, 50.0), "价格带分组分界（元）：流量 / 主流 / 利润 / 高价",
                                                  0.0, None)  # fmt: skip
    category_top: int = _param(8, "品类趋势显示的品类数（其余合并为其他）", 1, 100)
    product_rows: int = _param(500, "商品明细发送到页面的行数（按实收排序）", 1, 100_000)

    def check(self) -> None:
        _require(len(self.abc_shares) == 2 and self.abc_shares[1] < 1, "abc_shares", self.abc_shares,
                 "应为两个小于 1 的递增占比 (two increasing shares below 1)")  # fmt: skip
        _require(len(self.price_group_edges) == 3, "price_group_edges", self.price_group_edges,
                 "应为三个递增金额 (three increasing amounts)")  # fmt: skip


GROUPS = {"todo": TodoRules, "health": HealthRules, "channel": ChannelRules, "products": ProductRules}


@dataclass(frozen=True)
class RuleSettings:
    """All rule groups; build with :meth:`from_env`, reach at runtime as ``settings.rules``."""

    todo: TodoRules = field(default_factory=TodoRules)
    health: HealthRules = field(default_factory=HealthRules)
    channel: ChannelRules = field(default_factory=ChannelRules)
    products: ProductRules = field(default_factory=ProductRules)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> RuleSettings:
        """Read ``O2O_RULE_*`` from ``env`` (default ``os.environ``); ``overrides`` by flat field
        name win over the environment; raise SettingsError naming the variable."""
        env = os.environ if env is None else env
        known = {f.name: (group, f) for group, kind in GROUPS.items() for f in fields(kind)}
        unknown = set(overrides) - set(known)
        if unknown:
            raise SettingsError(f"unknown rule setting(s): {', '.join(sorted(unknown))}")
        values: dict[str, dict[str, object]] = {group: {} for group in GROUPS}
        for name, (group, f) in known.items():
            raw = env.get(env_var(name))
            if name in overrides:
                given = overrides[name]
                values[group][name] = tuple(given) if isinstance(given, list) else given
            elif raw is not None and raw.strip():
                values[group][name] = _parse(env_var(name), raw.strip(), f.default)
        return cls(**{group: GROUPS[group](**given) for group, given in values.items()})  # type: ignore[arg-type]

    def with_values(self, **values: object) -> RuleSettings:
        """A copy with some fields (flat names) replaced."""
        return RuleSettings.from_env({}, **{**flat(self), **values})

    def fingerprint(self) -> str:
        """Digest of every value: part of each cache key, so a changed threshold is never served
        a view computed under another."""
        return hashlib.sha256(orjson.dumps(flat(self), option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def flat(rules: RuleSettings) -> dict[str, object]:
    """field name → value over every group."""
    return {f.name: getattr(group, f.name) for group in (rules.todo, rules.health, rules.channel, rules.products)
            for f in fields(group)}  # fmt: skip


def documented() -> list[tuple[str, str, object, str]]:
    """(field, Chinese meaning, default, variable) of every rule, in group order (METRICS.md §10)."""
    return [(f.name, f.metadata["zh"], f.default, env_var(f.name)) for kind in GROUPS.values() for f in fields(kind)]


def _parse(var: str, raw: str, default: object) -> object:
    if isinstance(default, tuple):
        parts = [part.strip() for part in raw.split(",") if part.strip()]
        if not parts:
            raise SettingsError(f"{var}={raw!r}: 列表为空 (empty list)")
        kind = type(default[0])
        return tuple(_number(var, raw, part, kind) for part in parts)
    return _number(var, raw, raw, type(default))


def _number(var: str, raw: str, text: str, kind: type) -> int | float:
    try:
        number = int(text) if kind is int else float(text)
    except ValueError:
        number = None
    if number is None or not math.isfinite(number):
        expected = "应为整数 (expected an integer)" if kind is int else "应为数字 (expected a number)"
        raise SettingsError(f"{var}={raw!r}: {expected}")
    return number


