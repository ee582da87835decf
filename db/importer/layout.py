"""Layout recognition: which file column feeds which field, and how order-level money is given.

Exports of 美团闪购, 饿了么, 京东到家 and of ERP systems name the same thing differently
(订单号 / 订单ID, 店铺名称 / 门店名称 …). ``recognise`` maps a file's headers to the fields of
db.export_format through ALIASES after normalisation (spaces, brackets with their content such
as "(元)", letter case). Two file columns for one field is an error naming both columns.

Order-level money (平台服务费, 预计订单收入 …) is either repeated on every line of an order or
given per line (each line its share). ``share_rules`` decides that once per column for the whole
file (docs/METRICS.md §1 "表头别名与按行分摊"): the validator then sums per-line shares per order.

Nothing here reads files or writes data; ``Mapping.format_text`` is the preview the CLI prints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from db.export_format import BY_NAME, COLUMNS

# Field name → other names for the same thing, as found in platform / ERP exports and their
# documentation (sources listed in docs/METRICS.md). Our own header always matches too.
# Only names whose meaning is the same as ours: a line total (商品实付金额) is not a unit price
# (实收价格) and a unit purchase price (商品进价) is not the line's cost (商品采购成本), so
# neither is an alias.
ALIASES: dict[str, tuple[str, ...]] = {
    "platform_order_id": ("订单号", "美团订单号", "饿了么订单号", "平台订单号"),
    "ordered_at": ("订单创建时间", "订单下单时间", "平台创建时间"),
    "store_name": ("店铺名称", "商户名"),
    "store_code": ("店铺ID", "店铺编码", "美团门店ID"),
    "product_name": ("货品名称",),
    "barcode": ("商品条码",),
    "product_code": ("商品编码", "商品编号", "货品代码"),
    "quantity": ("商品数量", "购买数量", "发货数量"),
    "expected_income": ("商家应收金额", "结算金额"),
    "delivery_fee": ("配送费用",),
    "commission": ("佣金",),
    "service_fee": ("服务费", "服务费用", "交易服务费"),
    "user_delivery_fee": ("运费", "运费金额"),
    "item_discount": ("商品优惠金额",),
    "packaging_fee": ("包装费用", "打包费"),
    "address": ("收件人地址",),
    "channel": ("下单渠道",),
}

_BRACKETS = re.compile(r"[(（\[【][^)）\]】]*[)）\]】]")
_SPACES = re.compile(r"[\s\u3000]+")

REPEATED = "repeated"
PER_LINE = "per_line"
SINGLE_LINE = "single_line"  # every order has one line: both rules give the same numbers
RULE_TEXT = {
    REPEATED: "每行重复整单金额 (取一行)",
    PER_LINE: "各行为分摊额 (按订单求和)",
    SINGLE_LINE: "每单只有一行 (两种规则结果相同)",
}
# Fewest orders whose lines must differ before a column is read as per-line shares: one or two
# differing orders in a small file are more likely a broken export than a layout.
MIN_DIFFERING_ORDERS = 3
# Order-level money that may come as per-line shares (sums over lines make sense).
SHAREABLE = tuple(c.name for c in COLUMNS if c.level == "order" and c.kind == "money")


def normalise(header: str) -> str:
    """'平台服务费（元）' → '平台服务费'; ' 订单 ID ' → '订单id'."""
    text = _BRACKETS.sub("", str(header))
    return _SPACES.sub("", text).casefold()


def _alias_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for col in COLUMNS:
        for name in (col.header, *ALIASES.get(col.name, ())):
            key = normalise(name)
            if index.setdefault(key, col.name) != col.name:  # pragma: no cover - table bug
                raise ValueError(f"alias {name!r} names two fields")
    return index


ALIAS_INDEX: dict[str, str] = _alias_index()


@dataclass
class Mapping:
    """How one file's columns feed the fields of db.export_format."""

    columns: dict[str, str]  # field name → file column
    ignored: list[str]  # file columns that feed no field
    missing_required: list[str]  # field names
    defaults: dict[str, float | str]  # missing optional field → value used for every line
    missing_optional: list[str]  # missing optional fields without a default (left empty)
    ambiguous: dict[str, list[str]]  # field name → the file columns that all match it
    share_rules: dict[str, str] = field(default_factory=dict)  # money field → REPEATED | PER_LINE …
    manual: dict[str, str] = field(default_factory=dict)  # field → file column chosen by the user
    unknown_columns: dict[str, str] = field(default_factory=dict)  # field → chosen column not in the file

    @property
    def ok(self) -> bool:
        return not self.missing_required and not self.ambiguous and not self.unknown_columns

    def to_dict(self) -> dict:
        """The preview as plain data (JSON): one entry per field, in the template's order."""
        fields = []
        for col in COLUMNS:
            source = self.columns.get(col.name)
            if source is not None:
                how = "manual" if col.name in self.manual else ("exact" if source == col.header else "alias")
            elif col.name in self.ambiguous:
                how = "ambiguous"
            elif col.name in self.unknown_columns:
                how = "unknown_column"
            elif col.name in self.defaults:
                how = "default"
            else:
                how = "missing_required" if col.required else "missing"
            fields.append({
                "field": col.name, "header": col.header, "required": col.required, "source": source,
                "how": how, "default": self.defaults.get(col.name),
                "candidates": self.ambiguous.get(col.name, []),
                "rule": RULE_TEXT.get(self.share_rules.get(col.name, ""), ""),
            })  # fmt: skip
        return {"fields": fields, "ignored": list(self.ignored), "unknown_columns": dict(self.unknown_columns)}

    @property
    def renames(self) -> dict[str, str]:
        """file column → our header, for the columns that feed a field."""
        return {source: BY_NAME[name].header for name, source in self.columns.items()}

    def format_text(self) -> str:
        out = ["字段映射 (文件列 → 字段):"]
        for col in COLUMNS:
            if col.name in self.columns:
                source = self.columns[col.name]
                same = "" if source == col.header else " (别名)"
                rule = self.share_rules.get(col.name)
                extra = f"  [{RULE_TEXT[rule]}]" if rule else ""
                out.append(f"  {source} → {col.header}{same}{extra}")
        for name, sources in self.ambiguous.items():
            out.append(f"  ❌ {' / '.join(sources)} 都对应字段 {BY_NAME[name].header}，无法确定用哪一列")
        for name in self.missing_required:
            out.append(f"  ❌ 缺少必需字段 {BY_NAME[name].header} (可用列名: {', '.join(accepted_names(name))})")
        for name, value in self.defaults.items():
            out.append(f"  缺少 {BY_NAME[name].header}: 使用默认值 {value}")
        if self.missing_optional:
            out.append(f"  缺少可选字段 (留空): {', '.join(BY_NAME[n].header for n in self.missing_optional)}")
        if self.ignored:
            out.append(f"  忽略的列: {', '.join(self.ignored)}")
        return "\n".join(out)


def accepted_names(name: str) -> list[str]:
    return [BY_NAME[name].header, *ALIASES.get(name, ())]


def recognise(headers: list[str], overrides: dict[str, str] | None = None) -> Mapping:
    """Map file headers to fields; exact duplicates are left to the validator (表头重复).

    ``overrides`` ({field: file column}, from a mapping the user chose or saved) wins over the
    aliases: the chosen column feeds that field and no other; "" leaves the field unmapped (its
    default applies). A chosen column the file lacks is an error naming both."""
    overrides = {k: v for k, v in (overrides or {}).items() if k in BY_NAME}
    present = {str(h) for h in headers}
    unknown = {n: c for n, c in overrides.items() if c and c not in present}
    manual = {n: c for n, c in overrides.items() if c and c in present}
    taken = set(manual.values())
    matches: dict[str, list[str]] = {n: [c] for n, c in manual.items()}
    ignored: list[str] = []
    for header in dict.fromkeys(h for h in headers if str(h).strip()):
        if header in taken:
            continue
        name = ALIAS_INDEX.get(normalise(header))
        if name is None or name in overrides:
            ignored.append(header)
        else:
            matches.setdefault(name, []).append(header)
    ambiguous = {n: s for n, s in matches.items() if len(s) > 1}
    columns = {n: s[0] for n, s in matches.items() if len(s) == 1}
    absent = [c for c in COLUMNS if c.name not in matches and c.name not in unknown]
    return Mapping(
        manual=manual,
        unknown_columns=unknown,
        columns=columns,
        ignored=ignored,
        missing_required=[c.name for c in absent if c.required],
        defaults={c.name: c.default for c in absent if not c.required and c.default is not None},
        missing_optional=[c.name for c in absent if not c.required and c.default is None],
        ambiguous=ambiguous,
    )


def share_rules(lines: pd.DataFrame, order_key: list[str], names: list[str]) -> dict[str, str]:
    """Per money column of the file: REPEATED, PER_LINE or SINGLE_LINE (docs/METRICS.md §1).

    PER_LINE when the lines differ in the column in at least MIN_DIFFERING_ORDERS orders AND in
    at least half of the multi-line orders that have a non-zero amount in it. A repeated export with a
    few broken orders stays REPEATED (those orders are reported as inconsistent, as before);
    in a per-line export orders whose shares happen to be equal are summed too (per file, not
    per order). ``lines`` holds parsed numbers (NaN for cells that failed)."""
    return rules_from_stats(share_stats(lines, order_key, names), names)


def share_stats(lines: pd.DataFrame, order_key: list[str], names: list[str]) -> dict:
    """The counts ``share_rules`` decides by, for lines holding whole orders. They add up over
    partitions of a file that keep each order whole (``merge_share_stats``)."""
    keyed = lines.dropna(subset=order_key)
    if keyed.empty:
        return {}
    codes = keyed.groupby(order_key, sort=False).ngroup().to_numpy()
    sizes = np.bincount(codes)
    stats: dict = {"multi_line": bool(sizes.max() > 1)}
    if not names:
        return stats
    grouped = keyed[names].astype(float).groupby(codes)  # NaN (failed cells) left out
    lo, hi, n = grouped.min(), grouped.max(), grouped.count()
    multi = n > 1
    differing = (multi & (lo != hi)).sum()
    nonzero = (multi & ((lo != 0) | (hi != 0))).sum()
    for name in names:
        stats[name] = (int(differing[name]), int(nonzero[name]))
    return stats


def merge_share_stats(total: dict, part: dict) -> dict:
    if not part:
        return total
    if not total:
        return dict(part)
    merged = {"multi_line": total["multi_line"] or part["multi_line"]}
    for name, counts in part.items():
        if name != "multi_line":
            before = total.get(name, (0, 0))
            merged[name] = (before[0] + counts[0], before[1] + counts[1])
    return merged


def rules_from_stats(stats: dict, names: list[str]) -> dict[str, str]:
    if not stats:
        return {}
    if not stats["multi_line"]:
        return dict.fromkeys(names, SINGLE_LINE)
    rules = {}
    for name in names:
        differing, nonzero = stats.get(name, (0, 0))
        per_line = differing >= MIN_DIFFERING_ORDERS and 2 * differing >= nonzero
        rules[name] = PER_LINE if per_line else REPEATED
    return rules


def sum_shares(lines: pd.DataFrame, order_key: list[str], names: list[str]) -> None:
    """Replace each per-line share by its order's sum, on every line of the order (in place).
    Failed cells (NaN) are left out of the sum; an order with no valid cell stays NaN."""
    if not names:
        return
    sums = lines.groupby(order_key, sort=False)[names].sum(min_count=1)
    index = pd.MultiIndex.from_frame(lines[order_key])
    lines[names] = sums.reindex(index).to_numpy()
