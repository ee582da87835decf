"""数据管理 over real HTTP: files POSTed to a real Waitress (the launcher's server) serving the
app with its import worker, on SQLite and PostgreSQL — upload → check → preview → import, a
bad file's report, refused uploads, the queue, the template."""

from __future__ import annotations

import csv
import hashlib
import http.client
import io
import json
import time
import zipfile
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import openpyxl
import pytest
from sqlalchemy import func, select

from app import create_app, stop_app
from config import Settings
from db.engine import make_engine
from db.export_format import COLUMNS
from db.migrate import upgrade
from db.models import ImportBatch, ImportJob, Order
from services import imports
from services.runtime import EXTENSION_KEY
from serving.worker import waitress_server
from tests.factories import write_csv, write_xlsx
from tests.integration.jobs_helpers import assert_database_holds, orders_sheet
from tests.integration.jobs_helpers import wait_for_job as _wait
from tests.live_server import waitress_in_thread

HEADERS = {"X-Requested-With": "o2o-upload"}


@contextmanager
def _served(database_url: str, root: Path, **overrides):
    """The app with its import worker on ``database_url``, served by the launcher's Waitress;
    yields (runtime, port)."""
    settings = Settings.from_env({}, database_url=database_url, data_dir=root / "var",
                                 redis_url="redis://127.0.0.1:1/0", cache_warm=False, **overrides)  # fmt: skip
    engine = make_engine(database_url)
    upgrade(engine)
    engine.dispose()
    app = create_app(settings, start_monitors=False, start_worker=True)
    try:
        factory = lambda: waitress_server(app, settings, host="127.0.0.1", port=0)  # noqa: E731
        with waitress_in_thread(None, make_server=factory) as server:
            yield app.server.extensions[EXTENSION_KEY], server.effective_port
    finally:
        stop_app(app)


@pytest.fixture
def site(empty_database_url, tmp_path):
    with _served(empty_database_url, tmp_path) as served:
        yield served


def _upload(port: int, body: bytes, name: str | None, headers: dict | None = None, *,
            chunked: bool = False) -> tuple[int, dict]:  # fmt: skip
    sent = dict(HEADERS if headers is None else headers)
    if name is not None:
        sent["X-File-Name"] = quote(name)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        if chunked:
            conn.request("POST", "/data/upload", body=iter([body[i:i + 4096] for i in range(0, len(body), 4096)]),
                         headers=sent, encode_chunked=True)  # fmt: skip
        else:
            conn.request("POST", "/data/upload", body=body, headers=sent)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def _get(port: int, path: str) -> tuple[int, dict, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def _upload_file(port: int, path: Path, name: str | None = None) -> dict:
    status, answer = _upload(port, path.read_bytes(), name or path.name)
    assert status == 200, answer
    return answer["job"]


@pytest.mark.parametrize("kind", ["csv", "csv-gb18030", "xlsx"])
def test_upload001_file_checked_previewed_and_imported(site, tmp_path, kind):
    runtime, port = site
    frame = orders_sheet(30, seed=3)
    if kind == "xlsx":
        path = write_xlsx(frame, tmp_path / "美团订单.xlsx")
    else:
        path = write_csv(frame, tmp_path / "美团订单.csv", encoding="gb18030" if kind == "csv-gb18030" else "utf-8-sig")
    job = _upload_file(port, path)
    assert job["file_name"] == path.name and job["size_bytes"] == path.stat().st_size
    stored = Path(runtime.settings.data_dir) / "uploads"
    assert [p.read_bytes() == path.read_bytes() for p in stored.glob("*/*") if p.name == path.name] == [True]
    checked = _wait(runtime, job["id"])
    assert checked.status == "checked", checked.message
    assert (checked.lines_done, checked.lines_total, checked.error_count) == (len(frame), len(frame), 0)
    preview = imports.job_preview(runtime, job["id"])
    assert preview["headers"] == list(frame.columns)
    assert preview["report"]["rows"] == len(frame) and preview["report"]["error_count"] == 0
    fields = {f["field"]: f for f in preview["mapping"]["fields"]}
    assert all(fields[c.name]["source"] == c.header for c in COLUMNS)
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar_one() == 0  # a check writes nothing

    started = imports.start_import(runtime, job["id"])
    assert started.status in ("queued", "running") and started.active
    done = _wait(runtime, job["id"])
    assert done.status == "succeeded", done.message
    assert done.batch_id is not None and done.step == "完成"
    with runtime.engine.connect() as conn:
        batch = conn.execute(select(ImportBatch.source, ImportBatch.sha256, ImportBatch.file_name)
                             .where(ImportBatch.id == done.batch_id)).one()  # fmt: skip
    assert tuple(batch) == ("upload", hashlib.sha256(path.read_bytes()).hexdigest(), path.name)
    assert [p for p in stored.glob("*/*") if p.name == path.name] == []  # imported: the copy is deleted
    assert_database_holds(runtime.engine, path)


def test_upload002_bad_file_report_names_row_and_column(site, tmp_path):
    runtime, port = site
    frame = orders_sheet(12, seed=5)
    frame["月售"] = frame["月售"].astype(object)
    frame.loc[4, "月售"] = "两个"  # sheet row 6 (header is row 1)
    path = write_csv(frame, tmp_path / "坏文件.csv")
    job = _wait(runtime, _upload_file(port, path)["id"])
    assert job.status == "invalid" and job.error_count == 1, job.message
    group = imports.job_preview(runtime, job.id)["report"]["groups"][0]
    assert (group["column"], group["count"]) == ("月售", 1)
    assert group["examples"][0]["row"] == 6 and group["examples"][0]["value"] == "两个"

    status, headers, body = _get(port, f"/data/jobs/{job.id}/report.csv")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert body.startswith(b"\xef\xbb\xbf")  # Excel reads UTF-8 only with a BOM
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == ["文件", "行号", "列", "值", "原因", "说明"]
    assert [(r[0], r[1], r[2], r[3]) for r in rows[1:]] == [("坏文件.csv", "6", "月售", "两个")]

    with pytest.raises(imports.JobRefused, match="不能"):
        imports.start_import(runtime, job.id)
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar_one() == 0

    folder = Path(imports.report_csv_path(runtime, job.id)).parent
    imports.remove_job(runtime, job.id)
    assert not folder.exists() and imports.report_csv_path(runtime, job.id) is None
    assert _get(port, f"/data/jobs/{job.id}/report.csv")[0] == 404
    assert job.id not in [j.id for j in imports.list_jobs(runtime)]
    assert [j.status for j in imports.list_jobs(runtime, include_finished=True) if j.id == job.id] == ["cancelled"]


def test_upload003_mapping_chosen_by_the_user_is_checked_and_imported(site, tmp_path):
    runtime, port = site
    frame = orders_sheet(10, seed=9).rename(columns={"门店名称": "门店"})  # not an alias of 门店名称
    path = write_csv(frame, tmp_path / "erp.csv")
    job = _wait(runtime, _upload_file(port, path)["id"])
    assert job.status == "invalid"
    preview = imports.job_preview(runtime, job.id)
    assert "门店" in preview["headers"]
    assert {f["field"]: f["how"] for f in preview["mapping"]["fields"]}["store_name"] == "missing_required"

    imports.save_mapping(runtime, "ERP导出", {"store_name": "门店"})
    name, mapping = imports.saved_mappings(runtime)[0]
    requeued = imports.set_mapping(runtime, job.id, mapping, name)
    assert requeued.status in ("uploaded", "checking") and requeued.mapping_name == "ERP导出"
    job = _wait(runtime, job.id)
    assert job.status == "checked", job.message
    fields = {f["field"]: f for f in imports.job_preview(runtime, job.id)["mapping"]["fields"]}
    assert (fields["store_name"]["source"], fields["store_name"]["how"]) == ("门店", "manual")
    imports.start_import(runtime, job.id)
    assert _wait(runtime, job.id).status == "succeeded"
    assert_database_holds(runtime.engine, path, renames={"门店": "门店名称"})


def _nothing_stored(runtime) -> None:
    uploads = Path(runtime.settings.data_dir) / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ImportJob)).scalar_one() == 0


def _zip(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return out.getvalue()


CSV_TEXT = "订单ID,门店名称\nA1,光谷店\n".encode()


@pytest.mark.parametrize("backend", ["sqlite"])  # refusals never reach the database
@pytest.mark.parametrize(
    ("body", "name", "headers", "status", "message"),
    [
        (b"x" * 60_000, "big.csv", None, 413, "超过上传上限"),
        (CSV_TEXT, "orders.txt", None, 415, "只接受 .csv 或 .xlsx"),
        (CSV_TEXT, None, None, 400, "缺少文件名"),
        (b"\x00\x01\x02binary\xff" * 100, "orders.csv", None, 415, "内容不是 CSV"),
        (_zip({"xl/workbook.xml": b"<workbook/>"}), "orders.csv", None, 415, "内容不是 CSV"),
        (CSV_TEXT, "orders.xlsx", None, 415, "内容不是 XLSX"),
        (b"PK\x03\x04" + b"\x00" * 200, "orders.xlsx", None, 415, "压缩包已损坏"),
        (_zip({"word/document.xml": b"<doc/>"}), "orders.xlsx", None, 415, "缺少 xl/workbook.xml"),
        (b"", "orders.csv", None, 400, "文件为空"),
        (CSV_TEXT, "orders.csv", {}, 400, "X-Requested-With"),
        (CSV_TEXT, "orders.csv", {**HEADERS, "Origin": "http://evil.example"}, 403, "其他网站"),
    ],
    ids=["too-large", "wrong-name", "no-name", "binary-csv", "zip-named-csv", "csv-named-xlsx",
         "broken-zip", "zip-not-workbook", "empty", "no-requested-with", "foreign-origin"],
)  # fmt: skip
def test_upload004_refused_uploads_answer_json_and_store_nothing(empty_database_url, tmp_path, body, name, headers,
                                                                 status, message):  # fmt: skip
    with _served(empty_database_url, tmp_path, max_import_bytes=50_000) as (runtime, port):
        got, answer = _upload(port, body, name, headers)
        assert got == status, answer
        assert message in answer["error"] and "Traceback" not in json.dumps(answer)
        _nothing_stored(runtime)


@pytest.mark.parametrize("backend", ["sqlite"])
def test_upload005_limit_applies_to_chunked_bodies_and_same_origin_passes(empty_database_url, tmp_path):
    with _served(empty_database_url, tmp_path, max_import_bytes=50_000) as (runtime, port):
        got, answer = _upload(port, b"a,b\n" * 15_000, "big.csv", chunked=True)
        assert got == 413 and "error" in answer, answer
        _nothing_stored(runtime)
        origin = {**HEADERS, "Origin": f"http://127.0.0.1:{port}"}
        got, answer = _upload(port, CSV_TEXT, "small.csv", origin, chunked=True)
        assert got == 200 and answer["job"]["size_bytes"] == len(CSV_TEXT), answer
        # behind nginx: Host without the port, the page served over TLS on another port
        proxied = {**HEADERS, "Host": "127.0.0.1", "Origin": "https://127.0.0.1:8443"}
        got, answer = _upload(port, CSV_TEXT, "proxied.csv", proxied)
        assert got == 200, answer
        for foreign in ("http://127.0.0.1.evil.example", "null", "http://localhost"):
            got, answer = _upload(port, CSV_TEXT, "x.csv", {**HEADERS, "Origin": foreign})
            assert got == 403 and "其他网站" in answer["error"], (foreign, answer)


def test_upload006_second_import_waits_in_the_queue(site, tmp_path):
    runtime, port = site
    paths = [write_csv(orders_sheet(2500, seed=s, prefix=f"Q{s}-"), tmp_path / f"周{s}.csv") for s in (1, 2)]
    ids = [_upload_file(port, p)["id"] for p in paths]
    assert [_wait(runtime, i).status for i in ids] == ["checked", "checked"]
    for job_id in ids:
        imports.start_import(runtime, job_id)
    samples = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        statuses = [imports.get_job(runtime, i).status for i in ids]
        samples.append(statuses)
        if "queued" not in statuses and "running" not in statuses:
            break
        time.sleep(0.02)
    assert samples[-1] == ["succeeded", "succeeded"], samples[-1]
    assert max(s.count("running") for s in samples) == 1
    assert ["running", "queued"] in samples  # the second waited, visibly
    active = [j.id for j in imports.list_jobs(runtime) if j.active]
    assert active == []
    assert_database_holds(runtime.engine, *paths)


def test_upload007_template_lists_every_header_and_imports(site, tmp_path):
    runtime, port = site
    status, headers, body = _get(port, "/data/template.xlsx")
    assert status == 200 and "attachment" in headers["Content-Disposition"]
    path = tmp_path / "模板.xlsx"
    path.write_bytes(body)
    book = openpyxl.load_workbook(path)
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    assert header == [c.header for c in COLUMNS]
    marked = {c.value for c in sheet[1] if c.font.bold and c.comment is not None}
    assert marked == {c.header for c in COLUMNS if c.required}
    job = _wait(runtime, _upload_file(port, path)["id"])
    assert job.status == "checked" and job.lines_total == 2, job.message
    imports.start_import(runtime, job.id)
    assert _wait(runtime, job.id).status == "succeeded"
    assert_database_holds(runtime.engine, path)
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Order)).scalar_one() == 1


@pytest.mark.parametrize("backend", ["sqlite"])
def test_upload008_unwritable_data_directory_is_a_json_error(empty_database_url, tmp_path):
    with _served(empty_database_url, tmp_path) as (runtime, port):
        uploads = Path(runtime.settings.data_dir) / "uploads"
        uploads.parent.mkdir(parents=True, exist_ok=True)
        uploads.write_text("a file where the uploads directory belongs")
        got, answer = _upload(port, CSV_TEXT, "orders.csv")
        assert got == 507 and "无法保存" in answer["error"], answer
        with runtime.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(ImportJob)).scalar_one() == 0


def test_upload009_workers_of_the_production_launcher_share_the_queue(empty_database_url, tmp_path):
    """scripts/launch.py production with two serving processes: files uploaded over HTTP are
    checked and imported by those processes' workers, one at a time across both."""
    import psutil

    from db.importer import jobs
    from tests.live_server import live_server

    paths = [write_csv(orders_sheet(2000, seed=s, prefix=f"L{s}-"), tmp_path / f"门店周报{s}.csv") for s in (1, 2, 3)]
    engine = make_engine(empty_database_url)
    try:
        with live_server(tmp_path / "instance" / "var", empty_database_url, "redis://127.0.0.1:1/0",
                         O2O_WORKERS="2", O2O_CACHE_WARM="0") as server:  # fmt: skip
            serving = {str(p.pid) for p in psutil.Process(server.process.pid).children()}
            ids = [_upload_file(server.port, path)["id"] for path in paths]
            samples = []

            def follow(until: str) -> None:
                deadline = time.monotonic() + 240
                while time.monotonic() < deadline:
                    rows = {r["id"]: r for r in jobs.list_jobs(engine)}
                    samples.append([rows[i]["status"] for i in ids])
                    if all(rows[i]["status"] not in jobs.ACTIVE for i in ids):
                        break
                    time.sleep(0.05)
                assert samples[-1] == [until] * len(ids), [rows[i]["message"] for i in ids]

            follow("checked")
            for job_id in ids:  # what 开始导入 on the page does
                assert jobs.enqueue_import(engine, job_id)
            follow("succeeded")
            claimed_by = {jobs.get_job(engine, i)["worker"].split(":")[1] for i in ids}
        assert claimed_by <= serving, (claimed_by, serving)
        assert max(sum(s in jobs.WORKING for s in sample) for sample in samples) == 1
        assert any("queued" in s and "running" in s for s in samples)
        assert_database_holds(engine, *paths, prefix="L")
    finally:
        engine.dispose()
