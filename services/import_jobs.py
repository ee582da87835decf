"""The import worker: a thread in each app process that claims jobs from the ``import_jobs``
table (db.importer.jobs) and runs them — a check (read + validate, nothing written) or an
import — writing progress back to the row, where every process and a page opened later see it.

It polls the table about once a second and wakes at once when this process enqueued a job
(``notify``). Its database work goes through an engine of its own *without* the web app's
read watchdog (a whole file's import transaction runs far longer than the page's 3 s bound).
While a job runs, a thread of its own writes the latest progress at most twice a second and
otherwise touches ``heartbeat_at`` every HEARTBEAT_S; a job whose heartbeat stops (its process
died) is failed by the next claim (``jobs.STALE_AFTER_S``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import shutil
import socket
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

import db.importer as importer
from config import Settings
from db.engine import make_engine
from db.importer import jobs
from db.importer.report import write_csv

log = logging.getLogger(__name__)

POLL_S = 1.0
HEARTBEAT_S = 5.0
PROGRESS_INTERVAL_S = 0.5  # at most two progress writes a second (the latest values)
SIDE_INTERVAL_S = 0.25  # the progress side file (no lock, a few µs): four times a second at most
UPLOAD_DIR = "uploads"  # under the data directory: one folder per job
ORPHAN_AFTER_S = 24 * 3600
REPORT_NAME = "report.csv"
PROGRESS_NAME = "progress.json"
ERROR_LOG_INTERVAL_S = 60.0

_workers_lock = threading.Lock()
_workers: dict[str, set[JobWorker]] = {}  # database URL → running workers of this process


def notify(database_url: str) -> None:
    """Wake this process's workers of ``database_url`` (a job was just enqueued)."""
    with _workers_lock:
        workers = list(_workers.get(database_url, ()))
    for worker in workers:
        worker.wake()


def report_path(stored_path: str | Path) -> Path:
    """Where the full validation report of a job's file is written (next to the upload)."""
    return Path(stored_path).parent / REPORT_NAME


def _write_report(path: Path, report) -> None:
    """Every problem of ``report`` as CSV next to the upload (UTF-8 with BOM: Excel opens it)."""
    with report_path(path).open("w", encoding="utf-8-sig", newline="") as out:
        write_csv(report, out)


def progress_path(stored_path: str | Path) -> Path:
    """The latest progress of a job being worked on, as JSON next to its upload (see _Reporter)."""
    return Path(stored_path).parent / PROGRESS_NAME


def live_progress(row: dict) -> dict:
    """``row`` with the progress its worker last wrote to the side file, while the job is being
    worked on (newer than the row's while SQLite's write lock holds the row's back)."""
    if row.get("status") not in jobs.WORKING:
        return row
    try:
        found = json.loads(progress_path(row["stored_path"]).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return row
    if not isinstance(found, dict) or found.get("job") != row["id"] or found.get("worker") != row["worker"]:
        return row
    return {**row, "step": found.get("step"), "lines_done": found.get("done", 0), "lines_total": found.get("total", 0)}


def side_file_fresh(row: dict, stale_after_s: float = jobs.STALE_AFTER_S) -> bool:
    """Whether the worker of a claimed job touched its side file within ``stale_after_s``: it is
    alive even when the row's heartbeat could not be written (SQLite, a long import write)."""
    try:
        age = time.time() - progress_path(row["stored_path"]).stat().st_mtime
    except OSError:
        return False
    return age < stale_after_s


def prune_orphans(engine: Engine, root: Path, older_than_s: float = ORPHAN_AFTER_S) -> int:
    """Delete upload folders no job refers to and older than ``older_than_s`` (an upload cut off
    by a killed process before its job was recorded); returns how many. Run at worker start."""
    if not root.is_dir():
        return 0
    known = {Path(p).parent.name for p in jobs.stored_paths(engine)}
    cutoff = time.time() - older_than_s
    removed = 0
    for folder in root.iterdir():
        try:
            if folder.is_dir() and folder.name not in known and folder.stat().st_mtime < cutoff:
                shutil.rmtree(folder, ignore_errors=True)
                removed += 1
        except OSError:
            continue
    if removed:
        log.info("removed %d upload folder(s) no job refers to", removed)
    return removed


class _Reporter:
    """Progress and liveness of one claimed job, written by two threads of their own so the
    job's thread never waits for them:

    - the row: the latest progress at most every PROGRESS_INTERVAL_S, else the heartbeat every
      HEARTBEAT_S (on SQLite these wait while an import's write transaction holds the lock);
    - the side file ``progress.json`` next to the upload (atomic rename, no lock): the latest
      values within SIDE_INTERVAL_S and at least every HEARTBEAT_S. The page reads it while the
      job runs (``live_progress``) and the workers take its age as the job's heartbeat when the
      row's is held back (``side_file_fresh``). Every process shares the data directory, as
      they share the uploads."""

    def __init__(self, engine: Engine, job: dict, worker: str) -> None:
        self.engine, self.job_id, self.worker = engine, job["id"], worker
        self._side = progress_path(job["stored_path"])
        self._lock = threading.Lock()
        self._latest: tuple[str, int, int] | None = None
        self._version = 0  # bumped by every report
        self._halt = threading.Event()
        self._threads = [
            threading.Thread(target=self._row_loop, name=f"import-job-{self.job_id}-row", daemon=True),
            threading.Thread(target=self._side_loop, name=f"import-job-{self.job_id}-file", daemon=True),
        ]
        self._write_side(None)  # fresh from the start (and no previous run's values)

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def report(self, step: str, done: int, total: int) -> None:
        """The importer's on_progress (step, lines done, lines total)."""
        with self._lock:
            self._latest = (step, int(done), int(total))
            self._version += 1

    @property
    def lines(self) -> tuple[int, int] | None:
        """(done, total) last reported, for the job's final row."""
        latest = self._latest
        return (latest[1], latest[2]) if latest is not None else None

    def _snapshot(self) -> tuple[int, tuple[str, int, int] | None]:
        with self._lock:
            return self._version, self._latest

    def _row_loop(self) -> None:
        written, last_write = 0, time.monotonic()
        while not self._halt.wait(PROGRESS_INTERVAL_S):
            version, latest = self._snapshot()
            try:
                if version != written and latest is not None:
                    jobs.update_progress(self.engine, self.job_id, self.worker, *latest)
                    written = version
                elif time.monotonic() - last_write >= HEARTBEAT_S:
                    jobs.heartbeat(self.engine, self.job_id, self.worker)
                else:
                    continue
                last_write = time.monotonic()
            except SQLAlchemyError:
                log.info("progress of import job %s not written this time", self.job_id, exc_info=True)
        self._row_written = written

    def _side_loop(self) -> None:
        written, last_write = 0, time.monotonic()
        while not self._halt.wait(SIDE_INTERVAL_S):
            version, latest = self._snapshot()
            if version != written or time.monotonic() - last_write >= HEARTBEAT_S:
                self._write_side(latest)
                written, last_write = version, time.monotonic()

    def _write_side(self, latest: tuple[str, int, int] | None) -> None:
        step, done, total = latest or (None, 0, 0)
        body = {"job": self.job_id, "worker": self.worker, "step": step, "done": done, "total": total}
        temporary = self._side.with_name(f".{self._side.name}.{threading.get_ident()}")
        try:
            temporary.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
            os.replace(temporary, self._side)
        except OSError:
            log.info("progress file of import job %s not written", self.job_id, exc_info=True)

    def close(self) -> None:
        """Stop, and write what was reported last (the job's work is over: no transaction of
        its own holds SQLite's lock any more). The final row is written by the caller."""
        if self._halt.is_set():
            return
        self._halt.set()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=1.0)
        version, latest = self._snapshot()
        if latest is None:
            return
        self._write_side(latest)
        if version != getattr(self, "_row_written", None):
            try:
                jobs.update_progress(self.engine, self.job_id, self.worker, *latest)
            except SQLAlchemyError:
                log.info("progress of import job %s not written", self.job_id, exc_info=True)


class JobWorker:
    """Claims and runs import jobs of one database until stopped."""

    def __init__(self, settings: Settings, *, poll_s: float = POLL_S, engine: Engine | None = None,
                 stale_after_s: float = jobs.STALE_AFTER_S) -> None:  # fmt: skip
        self.settings = settings
        self.poll_s = poll_s
        self.stale_after_s = stale_after_s
        self.name = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._own_engine = engine is None
        self.engine = engine if engine is not None else make_engine(settings.database_url)
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error_log = -ERROR_LOG_INTERVAL_S
        self.current_job: int | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self) -> JobWorker:
        self._thread = threading.Thread(target=self._run, name="import-worker", daemon=True)
        self._thread.start()
        with _workers_lock:
            _workers.setdefault(self.settings.database_url, set()).add(self)
        return self

    def stop(self, timeout: float = 1.0) -> None:
        """Stop claiming; wait up to ``timeout`` for a running job (a job still running after it
        dies with the process: its transaction rolls back, the next claim fails it)."""
        with _workers_lock:
            _workers.get(self.settings.database_url, set()).discard(self)
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("import worker still busy with job %s at stop", self.current_job)
                return
        if self._own_engine:
            self.engine.dispose()

    def wake(self) -> None:
        self._wake.set()

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        try:
            prune_orphans(self.engine, Path(self.settings.data_dir) / UPLOAD_DIR)
        except Exception:
            log.warning("import worker: pruning upload folders failed", exc_info=True)
        while not self._stop.is_set():
            try:
                worked = self.run_once()
            except Exception:  # the database away, a bug: log (rarely) and try again later
                now = time.monotonic()
                if now - self._last_error_log >= ERROR_LOG_INTERVAL_S:
                    self._last_error_log = now
                    log.warning("import worker: claiming a job failed", exc_info=True)
                worked = False
            if worked:
                continue  # another job may be waiting
            self._wake.wait(self.poll_s)
            self._wake.clear()

    # -- one job ------------------------------------------------------------------------------
    def run_once(self) -> bool:
        """Claim and run one job; False when there was none to claim. A look at the active jobs
        first (a read) spares the claim's write transaction while nothing waits, or while a job
        is being worked on by a live worker — one whose row heartbeat or side file is fresh."""
        active = jobs.active_jobs(self.engine)
        if not active:
            return False
        cutoff = dt.datetime.now() - dt.timedelta(seconds=self.stale_after_s)
        for row in active:
            if row["status"] in jobs.WORKING and (
                (row["heartbeat_at"] is not None and row["heartbeat_at"] >= cutoff)
                or side_file_fresh(row, self.stale_after_s)
            ):
                return False  # one job at a time, and that one is alive
        job = jobs.claim_next(self.engine, self.name, stale_after_s=self.stale_after_s)
        if job is None:
            return False
        self.current_job = job["id"]
        reporter = _Reporter(self.engine, job, self.name)
        reporter.start()
        try:
            if job["status"] == "checking":
                self._check(job, reporter)
            else:
                self._import(job, reporter)
        except Exception:
            log.exception("import job %s (%s) failed", job["id"], job["file_name"])
            reporter.close()
            message = "处理文件时发生内部错误，未写入任何数据 (详情见服务日志)"
            status = "invalid" if job["status"] == "checking" else "failed"
            try:
                jobs.finish(self.engine, job["id"], self.name, status, message=message)
            except SQLAlchemyError:
                log.exception("could not record the failure of import job %s", job["id"])
        finally:
            reporter.close()
            self.current_job = None
        return True

    def _check(self, job: dict, reporter: _Reporter) -> None:
        path = Path(job["stored_path"])
        mapping = json.loads(job["mapping"]) if job["mapping"] else None
        result = importer.check_file(path, self.settings, mapping=mapping, on_progress=reporter.report)
        reporter.close()
        report = result.report
        preview = {
            "headers": result.headers,
            "mapping": result.layout.to_dict() if result.layout is not None else None,
            "report": report.to_dict(),
            "message": result.message,
        }
        _write_report(path, report)
        if result.message:  # not readable at all
            status, message, errors = "invalid", result.message, max(1, report.error_count)
        elif result.ok:
            status, errors = "checked", 0
            message = f"校验通过: {report.rows} 行，可以导入"
            previous = jobs.previous_import(self.engine, job["sha256"])
            if previous is not None:
                message += (f" (注意: 内容相同的文件已于 {previous[1]:%Y-%m-%d %H:%M} 导入，批次 #{previous[0]}；"
                            "再次导入不会改变数据)")  # fmt: skip
        else:
            status, errors = "invalid", report.error_count
            message = f"发现 {errors} 个错误，文件不能导入 (共 {report.rows} 行)"
        jobs.finish(self.engine, job["id"], self.name, status, message=message, error_count=errors,
                    preview=preview, step="完成", lines=reporter.lines)  # fmt: skip

    def _import(self, job: dict, reporter: _Reporter) -> None:
        path = Path(job["stored_path"])
        mapping = json.loads(job["mapping"]) if job["mapping"] else None
        started = time.monotonic()
        result = importer.import_file(self.engine, path, self.settings, mapping=mapping, on_progress=reporter.report,
                                      source="upload", created_by=job["created_by"])  # fmt: skip
        reporter.close()
        log.info("import job %s: %s in %.1f s", job["id"], result.status, time.monotonic() - started)
        if result.status == "rejected":
            report = result.report
            errors = report.error_count if report is not None else 0
            preview = None
            if report is not None and errors:  # the import's own findings replace the check's
                _write_report(path, report)
                checked = json.loads(job["preview"]) if job["preview"] else {}
                layout = report.layout.to_dict() if report.layout is not None else None
                preview = {"headers": checked.get("headers", []), "mapping": layout,
                           "report": report.to_dict(), "message": result.message}  # fmt: skip
            jobs.finish(self.engine, job["id"], self.name, "failed", message=result.message,
                        error_count=max(1, errors), preview=preview, lines=reporter.lines)  # fmt: skip
            return
        if jobs.finish(self.engine, job["id"], self.name, "succeeded", message=result.message,
                       batch_id=result.batch_id, step="完成", lines=reporter.lines):  # fmt: skip
            # the data is in the database and the batch row keeps name, size and SHA-256: the
            # stored copy is not needed any more (weekly 200 MB files would fill the disk)
            path.unlink(missing_ok=True)
