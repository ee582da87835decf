"""Layout recognition against the real importer on SQLite and PostgreSQL: platform / ERP header
aliases, order-level money given per line (each line its share), ambiguity, the preview."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
from sqlalchemy import inspect, select

from db.demo_data import DemoSpec, generate_orders
from db.engine import make_engine
from db.importer import check_file, import_file
from db.importer.report import write_csv as write_report_csv
from db.models import ImportBatch, Order, Store
from tests.factories import write_csv
from tests.integration.test_cli import run

SPEC = DemoSpec(stores=2, days=4, seed=3)  # 1,166 lines, 417 orders, 347 of them multi-line
KEY = ["渠道", "订单ID"]

# canonical header → a name for the same field in other exports (docs/METRICS.md §1)
PLATFORM_HEADERS = {
    "订单ID": "订单号",
    "下单时间": "订单创建时间",
    "门店名称": "店铺名称",
    "门店ID": "店铺编码",
    "条码": "商品条码",
    "店内码": "商品编码",
    "实收价格": "实收价格（元）",  # brackets and units are normalised away
    "月售": "商品数量",
    "预计订单收入": "商家应收金额",
    "物流配送费": "配送费用",
    "平台佣金": "佣金",
    "平台服务费": "交易服务费",
    "打包袋金额": "包装费用",
    "渠道": " 渠道 ",
}
ORDER_MONEY = {  # Order attribute → canonical header
    "expected_income": "预计订单收入",
    "service_fee": "平台服务费",
    "commission": "平台佣金",
    "delivery_fee": "物流配送费",
    "packaging_fee": "打包袋金额",
}


def demo_lines() -> pd.DataFrame:
    return generate_orders(SPEC)[0]


def expected_orders(lines: pd.DataFrame) -> pd.DataFrame:
    """Per order, straight from the canonical lines with pandas: the order-level money as the
    export repeats it, the revenue as Σ 实收价格 × 月售, and the store."""
    first = lines.groupby(KEY, sort=True)[[*ORDER_MONEY.values(), "门店名称"]].first()
    revenue = (lines["实收价格"] * lines["月售"]).groupby([lines[k] for k in KEY], sort=True).sum()
    first["items_revenue"] = revenue
    return first.rename(columns={v: k for k, v in ORDER_MONEY.items()})


def stored_orders(engine) -> pd.DataFrame:
    query = select(
        Order.channel.label("渠道"), Order.platform_order_id.label("订单ID"), Store.name.label("门店名称"),
        Order.items_revenue, *[getattr(Order, name) for name in ORDER_MONEY],
    ).join(Store, Store.id == Order.store_id)  # fmt: skip
    with engine.connect() as conn:
        return pd.read_sql(query, conn).set_index(KEY).sort_index()


def assert_same_orders(engine, lines: pd.DataFrame) -> None:
    expected, stored = expected_orders(lines), stored_orders(engine)
    assert list(stored.index) == list(expected.index)
    assert (stored["门店名称"] == expected["门店名称"]).all()
    for column in ["items_revenue", *ORDER_MONEY]:
        pd.testing.assert_series_equal(stored[column], expected[column], check_names=False, atol=0.005, rtol=0)


def split_per_line(lines: pd.DataFrame, headers: list[str]) -> pd.DataFrame:
    """Each line carries its share of the order's amount (by line revenue, in cents; the last
    line takes the rounding remainder), the way some exports give 平台服务费 / 预计订单收入."""
    out = lines.copy()
    weight = (lines["实收价格"] * lines["月售"]).to_numpy()
    for header in headers:
        cents = np.round(lines[header].to_numpy() * 100)
        shares = np.full(len(lines), np.nan)
        for rows in lines.groupby(KEY, sort=False).indices.values():
            total = cents[rows[0]]
            if np.isnan(total):
                continue
            w = weight[rows] if weight[rows].sum() > 0 else np.ones(len(rows))
            part = np.floor(total * w / w.sum())
            part[-1] = total - part[:-1].sum()
            shares[rows] = part / 100
        out[header] = shares
    return out


def test_layout001_platform_headers_import_the_same_numbers(engine, settings, tmp_path):
    lines = demo_lines()
    aliased = lines.rename(columns=PLATFORM_HEADERS).assign(备注="")
    path = write_csv(aliased, tmp_path / "美团闪购_订单明细.csv")
    result = import_file(engine, path, settings)
    assert result.status == "imported", result.message
    assert_same_orders(engine, lines)


def test_layout002_per_line_shares_sum_to_the_order_totals(engine, settings, tmp_path):
    lines = demo_lines()
    shared = split_per_line(lines, ["平台服务费", "预计订单收入"])
    differs = shared.groupby(KEY)["平台服务费"].nunique() > 1
    assert differs.sum() > 100  # the file really carries shares, not repeated values
    path = write_csv(shared, tmp_path / "per_line.csv")
    result = import_file(engine, path, settings)
    assert result.status == "imported", result.message[:2000]
    assert_same_orders(engine, lines)  # the same order totals as the repeated export


def test_layout003_per_line_shares_with_platform_headers(engine, settings, tmp_path):
    lines = demo_lines()
    shared = split_per_line(lines, ["平台服务费", "预计订单收入", "物流配送费"]).rename(columns=PLATFORM_HEADERS)
    result = import_file(engine, write_csv(shared, tmp_path / "other_source.csv"), settings)
    assert result.status == "imported", result.message[:2000]
    assert_same_orders(engine, lines)


def test_layout004_two_columns_for_one_field_is_a_clear_error(engine, settings, tmp_path):
    lines = demo_lines()
    both = lines.assign(订单号=lines["订单ID"])  # 订单ID and its alias 订单号 side by side
    result = import_file(engine, write_csv(both, tmp_path / "both.csv"), settings)
    assert result.status == "rejected"
    assert "订单ID / 订单号" in result.message and "无法确定用哪一列" in result.message
    with engine.connect() as conn:
        assert conn.execute(select(ImportBatch.status)).scalars().all() == ["failed"]
        assert conn.execute(select(Order.id)).first() is None


def test_layout005_preview_prints_the_mapping_and_writes_nothing(empty_database_url, tmp_path):
    lines = demo_lines().drop(columns=["打包袋金额", "城市"])
    shared = split_per_line(lines, ["平台服务费"]).rename(columns=PLATFORM_HEADERS)
    path = write_csv(shared, tmp_path / "preview.csv")
    env = {"O2O_DATABASE_URL": empty_database_url, "O2O_DATA_DIR": str(tmp_path / "var")}
    result = run(["scripts/import_orders.py", "--preview", str(path)], env)
    out = result.stdout + result.stderr
    assert result.returncode == 0, out
    assert "订单号 → 订单ID" in out and "商家应收金额 → 预计订单收入" in out
    assert "交易服务费 → 平台服务费 (别名)  [各行为分摊额 (按订单求和)]" in out
    assert "配送费用 → 物流配送费 (别名)  [每行重复整单金额 (取一行)]" in out
    assert "缺少 打包袋金额: 使用默认值 0.0" in out
    assert "城市" in out.split("缺少可选字段")[1].splitlines()[0]
    engine = make_engine(empty_database_url)
    try:
        assert inspect(engine).get_table_names() == []  # not even migrated
    finally:
        engine.dispose()


def test_layout006_preview_names_a_missing_required_field(empty_database_url, tmp_path):
    lines = demo_lines().drop(columns=["实收价格"])
    env = {"O2O_DATABASE_URL": empty_database_url, "O2O_DATA_DIR": str(tmp_path / "var")}
    result = run(["scripts/import_orders.py", "--preview", str(write_csv(lines, tmp_path / "x.csv"))], env)
    assert result.returncode == 1
    assert "缺少必需字段 实收价格" in result.stdout


def test_layout007_errors_name_the_files_own_column(engine, settings, tmp_path):
    lines = demo_lines().rename(columns=PLATFORM_HEADERS).astype(object)
    lines.loc[4, "商品数量"] = "两个"  # sheet row 6
    result = import_file(engine, write_csv(lines, tmp_path / "bad.csv"), settings)
    assert result.status == "rejected"
    found = {(p.row, p.column, p.reason) for p in result.report.problems}
    assert (6, "商品数量 (月售)", "不是有效数字") in found


def test_layout008_a_chosen_mapping_imports_columns_no_alias_knows(engine, settings, tmp_path):
    """An ERP export with its own names: unknown without a mapping, imported with one (the
    numbers as pandas computes them from the canonical lines)."""
    lines = demo_lines()
    own = {"订单ID": "单据编号", "实收价格": "成交单价", "月售": "出库数量"}
    path = write_csv(lines.rename(columns=own), tmp_path / "erp.csv")
    bare = check_file(path, settings)
    assert not bare.ok and {"platform_order_id", "received_price", "quantity"} <= set(bare.layout.missing_required)
    chosen = {"platform_order_id": "单据编号", "received_price": "成交单价", "quantity": "出库数量"}
    checked = check_file(path, settings, mapping=chosen)
    assert checked.ok, checked.report.format_text()
    fields = {f["field"]: f for f in checked.layout.to_dict()["fields"]}
    assert (fields["quantity"]["source"], fields["quantity"]["how"]) == ("出库数量", "manual")
    result = import_file(engine, path, settings, mapping=chosen)
    assert result.status == "imported", result.message[:2000]
    assert_same_orders(engine, lines)


def test_layout009_a_mapping_to_a_column_the_file_lacks_is_named(engine, settings, tmp_path):
    path = write_csv(demo_lines(), tmp_path / "plain.csv")
    result = import_file(engine, path, settings, mapping={"quantity": "出库数量"})
    assert result.status == "rejected"
    found = {(p.row, p.column, p.reason) for p in result.report.problems}
    assert (1, "出库数量", "映射给字段 月售 的列不在文件中") in found
    with engine.connect() as conn:
        assert conn.execute(select(Order.id)).first() is None
    # "" leaves a field unmapped: its column is then ignored and the default applies
    unmapped = check_file(path, settings, mapping={"packaging_fee": ""})
    assert unmapped.ok and unmapped.layout.defaults.get("packaging_fee") == 0.0
    assert "打包袋金额" in unmapped.layout.ignored


def test_layout010_the_whole_report_downloads_as_csv(settings, tmp_path):
    lines = demo_lines().astype(object)
    lines.loc[[4, 7, 9], "月售"] = ["两个", "=1+2", "-"]
    result = check_file(write_csv(lines, tmp_path / "bad.csv"), settings)
    out = io.StringIO()
    write_report_csv(result.report, out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0] == ["文件", "行号", "列", "值", "原因", "说明"]
    assert len(rows) - 1 == result.report.error_count > 0
    by_row = {int(r[1]): r for r in rows[1:]}
    assert by_row[6][2:5] == ["月售", "两个", "不是有效数字"]
    assert by_row[9][3] == "'=1+2"  # a formula stays text in a spreadsheet
