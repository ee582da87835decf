"""Command-line entry points run as real subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys

from sqlalchemy import func, select

from config import PROJECT_ROOT
from db.models import Order
from tests.factories import write_csv
from tests.integration.test_import import small_sheet


def run(args: list[str], env: dict[str, str], timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=PROJECT_ROOT, env={**os.environ, **env},
        capture_output=True, text=True, encoding="utf-8", timeout=timeout,
    )  # fmt: skip


def test_cli001_import_good_then_bad_file(engine, settings, tmp_path):
    env = {"O2O_DATABASE_URL": settings.database_url, "O2O_DATA_DIR": str(tmp_path)}
    good = write_csv(small_sheet(), tmp_path / "good.csv")
    first = run(["scripts/import_orders.py", str(good)], env)
    assert first.returncode == 0, first.stderr
    assert "导入 4 行 / 3 单" in first.stdout + first.stderr

    again = run(["scripts/import_orders.py", str(good)], env)
    assert again.returncode == 0 and "未做任何更改" in again.stdout + again.stderr

    bad = small_sheet().astype(object)
    bad.loc[1, "月售"] = "两个"
    report = tmp_path / "report.json"
    rejected = run(["scripts/import_orders.py", str(write_csv(bad, tmp_path / "bad.csv")),
                    "--report", str(report)], env)
    out = rejected.stdout + rejected.stderr
    assert rejected.returncode == 1
    assert "bad.csv" in out and "[月售] 不是有效数字" in out and "第 3 行: '两个'" in out
    assert '"row": 3' in report.read_text(encoding="utf-8")
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar_one() == 3


def test_cli002_launcher_refuses_debug_on_all_interfaces(tmp_path):
    result = run(["scripts/launch.py", "debug", "--host", "0.0.0.0"], {"O2O_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "调试模式只允许绑定 127.0.0.1" in result.stdout
    assert not (tmp_path / "o2o.sqlite3").exists()  # refused before touching anything


def test_cli003_bad_setting_is_one_clear_line(tmp_path):
    result = run(["scripts/launch.py", "production"], {"O2O_PORT": "eighty", "O2O_DATA_DIR": str(tmp_path)})
    assert result.returncode == 2
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines == ["❌ 配置错误: O2O_PORT='eighty': 应为整数 (expected an integer)"]


def test_cli004_production_launcher_seeds_and_serves(tmp_path):
    """The README run path: migrate, seed a (tiny) demo on first start, serve on Waitress."""
    import json
    import time
    import urllib.request

    from tests.integration.test_app import kpi_payload, kpi_values
    from tests.live_server import free_port

    port = free_port()
    env = {**os.environ, "O2O_DATA_DIR": str(tmp_path), "O2O_DEMO_STORES": "3", "O2O_DEMO_DAYS": "14",
           "O2O_REDIS_URL": "redis://127.0.0.1:1/0"}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "scripts/launch.py", "production", "--host", "127.0.0.1", "--port", str(port)],
        cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                assert time.monotonic() < deadline, "server did not start"
                time.sleep(0.5)
        truth = json.loads((tmp_path / "demo" / "ground_truth.json").read_text(encoding="utf-8"))
        end = truth["spec"]["end_date"]
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/_dash-update-component",
            data=json.dumps(kpi_payload(["all"], end, end, ["all"])).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            values = kpi_values(json.load(response))
        assert int(values["orders"].replace(",", "")) > 0
    finally:
        proc.terminate()
        output = proc.communicate(timeout=20)[0]
    assert "首次启动: 生成演示数据" in output and "演示数据已导入" in output
    assert "Redis 不可用" in output  # unreachable Redis is a warning, not a failure


def test_cli005_150k_errors_print_tens_of_lines_and_report_all(engine, settings, tmp_path):
    """75,000 two-line orders: line 1 with an unparseable 下单时间, line 2 with 实收价格 inf.
    150,000 errors in two groups: the screen shows each group with 20 rows, --report all."""
    import json

    import pandas as pd

    n = 75_000
    base = small_sheet().iloc[[0, 1]].reset_index(drop=True)  # MT1's two lines (different SKUs)
    frame = pd.concat([base] * n, ignore_index=True).astype(object)
    frame["订单ID"] = [f"MT{i:06d}" for i in range(n) for _ in range(2)]
    frame.loc[0::2, "下单时间"] = "2026-11-01 25:61:00"
    frame.loc[1::2, "实收价格"] = "inf"
    path = tmp_path / "broken.csv"
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    report = tmp_path / "report.json"
    env = {"O2O_DATABASE_URL": settings.database_url, "O2O_DATA_DIR": str(tmp_path)}

    result = run(["scripts/import_orders.py", str(path), "--report", str(report)], env, timeout=300)

    out = result.stdout + result.stderr
    printed = [line for line in out.splitlines() if line.strip()]
    assert result.returncode == 1
    assert "发现 150000 个错误" in out
    assert "[下单时间] 无法解析的时间" in out and "— 75000 处" in out and "[实收价格] 不是有限数字" in out
    assert "第 2 行: '2026-11-01 25:61:00'" in out and "第 3 行: 'inf'" in out
    assert len(printed) < 80, f"{len(printed)} lines printed"
    full = json.loads(report.read_text(encoding="utf-8"))
    assert [r["error_count"] for r in full] == [150_000]
    problems = full[0]["problems"]
    assert len(problems) == 150_000
    assert {p["row"] for p in problems if p["column"] == "下单时间"} == set(range(2, 2 * n + 2, 2))
    assert {p["row"] for p in problems if p["column"] == "实收价格"} == set(range(3, 2 * n + 2, 2))
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar_one() == 0
