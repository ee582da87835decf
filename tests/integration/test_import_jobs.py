"""The import job queue (db.importer.jobs) and its worker (services.import_jobs) on real SQLite
and PostgreSQL: one job worked on at a time per database, whoever claims; a job whose process
was killed is failed and wrote nothing; mappings saved by name."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from sqlalchemy import func, select, update

from config import PROJECT_ROOT
from db.engine import make_engine
from db.importer import jobs
from db.models import ImportBatch, ImportJob, Order
from services.import_jobs import JobWorker, live_progress, progress_path
from tests.factories import write_csv
from tests.integration.jobs_helpers import assert_database_holds, orders_sheet


def _job(engine, path: Path, name: str | None = None) -> int:
    return jobs.create_job(engine, file_name=name or path.name, stored_path=str(path),
                           size_bytes=path.stat().st_size, sha256="0" * 64)  # fmt: skip


def _status(engine, job_id: int) -> dict:
    """The row as the page sees it (with the worker's live progress while it works)."""
    row = jobs.get_job(engine, job_id)
    assert row is not None
    return live_progress(row)


def _wait(engine, job_id: int, done, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = _status(engine, job_id)
        if done(row):
            return row
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {row['status']} after {timeout} s: {row['message']}")


def _beat_at(conn, job_id: int, seconds: float) -> None:
    when = dt.datetime.now() + dt.timedelta(seconds=seconds)
    conn.execute(update(ImportJob).where(ImportJob.id == job_id).values(heartbeat_at=when))


def test_jobs001_claims_oldest_and_only_one_at_a_time(engine, tmp_path):
    path = write_csv(orders_sheet(3), tmp_path / "a.csv")
    first, second = _job(engine, path), _job(engine, path)
    claimed = jobs.claim_next(engine, "w1")
    assert claimed["id"] == first and claimed["status"] == "checking" and claimed["worker"] == "w1"
    assert jobs.claim_next(engine, "w2") is None  # the first is being checked: the second waits
    assert _status(engine, second)["status"] == "uploaded"
    assert jobs.finish(engine, first, "w1", "checked", message="ok", error_count=0)
    assert jobs.enqueue_import(engine, first)
    again = jobs.claim_next(engine, "w2")  # oldest waiting: the first (queued for import)
    assert again["id"] == first and again["status"] == "running"
    assert jobs.claim_next(engine, "w1") is None


def test_jobs002_concurrent_claims_hand_out_one_job(empty_database_url, tmp_path):
    from db.migrate import upgrade

    engines = [make_engine(empty_database_url) for _ in range(6)]
    upgrade(engines[0])
    path = write_csv(orders_sheet(3), tmp_path / "a.csv")
    for _ in range(4):
        _job(engines[0], path)
    barrier = threading.Barrier(len(engines))
    got: list = []

    def claim(engine, name):
        barrier.wait()
        got.append(jobs.claim_next(engine, name))

    threads = [threading.Thread(target=claim, args=(e, f"w{i}")) for i, e in enumerate(engines)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        claimed = [g for g in got if g is not None]
        assert len(got) == len(engines) and len(claimed) == 1, got
        with engines[0].connect() as conn:
            working = conn.execute(select(func.count()).where(ImportJob.status.in_(jobs.WORKING))).scalar_one()
        assert working == 1
    finally:
        for e in engines:
            e.dispose()


def test_jobs003_stale_job_is_failed_at_the_next_claim(engine, tmp_path):
    path = write_csv(orders_sheet(3), tmp_path / "a.csv")
    dead, waiting = _job(engine, path), _job(engine, path)
    assert jobs.claim_next(engine, "dead-process")["id"] == dead
    jobs.finish(engine, dead, "dead-process", "checked", error_count=0)
    jobs.enqueue_import(engine, dead)
    jobs.claim_next(engine, "dead-process")
    assert jobs.claim_next(engine, "alive") is None  # fresh heartbeat: still counts as running
    with engine.begin() as conn:
        _beat_at(conn, dead, -(jobs.STALE_AFTER_S + 5))
    claimed = jobs.claim_next(engine, "alive")
    assert claimed is not None and claimed["id"] == waiting
    failed = _status(engine, dead)
    assert failed["status"] == "failed" and "导入中断" in failed["message"] and "未写入任何数据" in failed["message"]
    assert failed["finished_at"] is not None


def test_jobs004_requeue_cancel_and_states(engine, tmp_path):
    path = write_csv(orders_sheet(3), tmp_path / "a.csv")
    job = _job(engine, path)
    assert not jobs.enqueue_import(engine, job)  # not checked yet
    assert not jobs.requeue_check(engine, job, {"store_name": "店铺"}, None)  # still waiting for its check
    jobs.claim_next(engine, "w")
    assert not jobs.cancel(engine, job)  # being checked
    jobs.finish(engine, job, "w", "invalid", error_count=3)
    assert not jobs.enqueue_import(engine, job)  # errors
    assert jobs.requeue_check(engine, job, {"store_name": "店铺"}, "美团")
    row = _status(engine, job)
    assert (row["status"], row["mapping_name"], row["error_count"]) == ("uploaded", "美团", 0)
    assert '"店铺"' in row["mapping"]
    assert jobs.cancel(engine, job)
    assert _status(engine, job)["status"] == "cancelled"
    assert jobs.claim_next(engine, "w") is None


def test_jobs005_saved_mapping_same_name_overwrites(engine):
    jobs.save_mapping(engine, "美团导出", {"store_name": "店铺名称"})
    jobs.save_mapping(engine, "饿了么", {"store_name": "门店"})
    jobs.save_mapping(engine, "美团导出", {"store_name": "商户名", "quantity": "商品数量"})
    assert jobs.saved_mappings(engine) == [
        ("美团导出", {"quantity": "商品数量", "store_name": "商户名"}),
        ("饿了么", {"store_name": "门店"}),
    ]


def test_jobs006_worker_checks_then_imports_with_progress(engine, settings, tmp_path):
    frame = orders_sheet(40)
    original = write_csv(frame, tmp_path / "orders.csv")
    path = tmp_path / "stored" / "orders.csv"
    path.parent.mkdir()
    path.write_bytes(original.read_bytes())
    worker = JobWorker(settings, poll_s=0.1).start()
    try:
        job = _job(engine, path)
        row = _wait(engine, job, lambda r: r["status"] not in jobs.ACTIVE)
        assert row["status"] == "checked", row["message"]
        assert (row["lines_done"], row["lines_total"]) == (len(frame), len(frame))
        assert jobs.enqueue_import(engine, job)
        row = _wait(engine, job, lambda r: r["status"] not in jobs.ACTIVE)
        assert row["status"] == "succeeded", row["message"]
        with engine.connect() as conn:
            batch = conn.execute(select(ImportBatch.__table__).where(ImportBatch.id == row["batch_id"])).one()
        assert batch.status == "succeeded" and batch.rows == len(frame)
        assert not path.exists()  # the stored copy is deleted once imported
        assert_database_holds(engine, original)
    finally:
        worker.stop()


KILLED_WORKER = """
import sys
from config import Settings
from services.import_jobs import JobWorker, live_progress, progress_path
settings = Settings.from_env({}, database_url=sys.argv[1], data_dir=sys.argv[2])
worker = JobWorker(settings)
while not worker.run_once():
    pass
"""


def test_jobs007_job_of_a_killed_process_is_failed_and_wrote_nothing(engine, settings, tmp_path, empty_database_url):
    """A process killed while its import writes: the transaction dies with it (nothing written)
    and, once its heartbeat is stale, the next claim marks the job failed."""
    write_csv(orders_sheet(6000, seed=7), tmp_path / "big.csv")
    path = tmp_path / "stored" / "big.csv"  # the worker deletes its copy after the import
    path.parent.mkdir()
    path.write_bytes((tmp_path / "big.csv").read_bytes())
    job = _job(engine, path)
    jobs.claim_next(engine, "checker")
    jobs.finish(engine, job, "checker", "checked", error_count=0)
    assert jobs.enqueue_import(engine, job)
    process = subprocess.Popen([sys.executable, "-c", KILLED_WORKER, empty_database_url, str(tmp_path / "var")],
                               cwd=PROJECT_ROOT)  # fmt: skip
    try:
        row = _wait(engine, job, lambda r: r["step"] == "写入" or r["status"] not in jobs.ACTIVE, timeout=120)
        assert row["status"] == "running", row["message"]  # killed while writing
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
    assert _status(engine, job)["status"] == "running"  # nobody knows yet
    worker = JobWorker(settings, poll_s=0.1).start()
    try:
        time.sleep(1.0)
        assert _status(engine, job)["status"] == "running"  # heartbeat and side file still fresh
        with engine.begin() as conn:  # as if STALE_AFTER_S had passed: first the row's beat …
            _beat_at(conn, job, -(jobs.STALE_AFTER_S + 1))
        time.sleep(1.0)
        assert _status(engine, job)["status"] == "running"  # … the side file alone says alive
        past = time.time() - jobs.STALE_AFTER_S - 1  # … then the file's
        os.utime(progress_path(path), (past, past))
        row = _wait(engine, job, lambda r: r["status"] == "failed", timeout=30)
        assert "导入中断" in row["message"]
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(Order)).scalar_one() == 0
            assert conn.execute(select(func.count()).where(ImportBatch.status == "succeeded")).scalar_one() == 0
        # 请重新导入: the stored file is queued again and imports whole
        assert jobs.enqueue_import(engine, job)
        row = _wait(engine, job, lambda r: r["status"] not in jobs.ACTIVE, timeout=120)
    finally:
        worker.stop()
    assert row["status"] == "succeeded", row["message"]
    assert_database_holds(engine, tmp_path / "big.csv")


def test_jobs008_two_workers_never_work_on_two_jobs_at_once(engine, settings, tmp_path):
    """Two workers (two engines, as two processes would have) and three files: every sample of
    the table shows at most one job checking/running, and the others waiting."""
    files = [write_csv(orders_sheet(1500, seed=s, prefix=f"W{s}-"), tmp_path / f"f{s}.csv") for s in range(3)]
    (tmp_path / "stored").mkdir()
    ids = [_job(engine, Path(shutil.copy(path, tmp_path / "stored"))) for path in files]
    workers = [JobWorker(settings, poll_s=0.05).start() for _ in range(2)]
    samples: list[list[str]] = []
    try:
        def all_done(statuses):
            return all(s not in jobs.ACTIVE for s in statuses)

        for phase in ("checked", "succeeded"):
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    rows = dict(conn.execute(select(ImportJob.id, ImportJob.status).where(ImportJob.id.in_(ids))).all())
                statuses = [rows[i] for i in ids]
                samples.append(statuses)
                if all_done(statuses):
                    break
                time.sleep(0.02)
            assert statuses == [phase] * 3, statuses
            if phase == "checked":
                for job_id in ids:
                    assert jobs.enqueue_import(engine, job_id)
    finally:
        for worker in workers:
            worker.stop()
    working = [sum(s in jobs.WORKING for s in sample) for sample in samples]
    assert max(working) == 1, samples
    # while one imported, another was seen waiting in the queue
    assert any("running" in s and "queued" in s for s in samples), samples
    with engine.connect() as conn:
        claimed_by = {w for (w,) in conn.execute(select(ImportJob.worker).where(ImportJob.id.in_(ids)))}
    assert claimed_by <= {w.name for w in workers}
    assert_database_holds(engine, *files)


def test_jobs009_progress_writes_are_throttled_and_the_side_file_is_current(engine, tmp_path):
    """An importer reporting thousands of times a second costs at most two row updates a
    second; the side file the page reads while the job runs carries the latest values."""
    from sqlalchemy import event

    from services.import_jobs import _Reporter

    path = write_csv(orders_sheet(3), tmp_path / "a.csv")
    job_id = _job(engine, path)
    job = jobs.claim_next(engine, "w")
    updates = []

    def count(_conn, _cursor, statement, *_args) -> None:
        if statement.startswith("UPDATE"):
            updates.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    reporter = _Reporter(engine, job, "w")
    reporter.start()
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < 1.6:
        n += 1
        reporter.report("校验", n, 1_000_000)
    time.sleep(0.6)
    reporter.close()
    assert n > 10_000
    assert 1 <= len(updates) <= 6, len(updates)  # ≤ 2 a second over ~2.2 s, and the last at close
    row = _status(engine, job_id)
    assert (row["step"], row["lines_done"], row["lines_total"]) == ("校验", n, 1_000_000)
    stored = jobs.get_job(engine, job_id)
    assert stored["lines_done"] == n  # the last pending values reached the row too


def test_jobs010_upload_folders_no_job_refers_to_are_pruned_when_old(engine, tmp_path):
    from services.import_jobs import prune_orphans

    root = tmp_path / "uploads"
    folders = {name: root / name for name in ("of-a-job", "orphan-old", "orphan-young")}
    for folder in folders.values():
        folder.mkdir(parents=True)
        (folder / "f.csv").write_text("订单ID\n1\n", encoding="utf-8")
    _job(engine, folders["of-a-job"] / "f.csv")
    day_ago = time.time() - 25 * 3600
    for name in ("of-a-job", "orphan-old"):
        os.utime(folders[name], (day_ago, day_ago))
    assert prune_orphans(engine, root) == 1
    assert sorted(p.name for p in root.iterdir()) == ["of-a-job", "orphan-young"]
