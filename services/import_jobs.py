"""The import worker: a thread in each app process that claims jobs from the ``import_jobs``
table (db.importer.jobs) and runs them — a check (read + validate, nothing written) or an
import — writing progress back to the row, where every process and a page opened later see it.

It polls the table about once a second and wakes at once when this process enqueued a job
(``notify``). Its database work goes through an engine of its own *without* the web app's
read watchdog (a whole file's import transaction runs far longer than the page's 3 s bound).
While a job runs, a heartbeat thread touches ``heartbeat_at`` every HEARTBEAT_S; a job whose
heartbeat stops (its process died) is failed by the next claim (``jobs.STALE_AFTER_S``).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
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
PROGRESS_INTERVAL_S = 0.5  # at most two progress writes a second (a new step is always written)
REPORT_NAME = "report.csv"
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


class JobWorker:
    """Claims and runs import jobs of one database until stopped."""

    def __init__(self, settings: Settings, *, poll_s: float = POLL_S, engine: Engine | None = None) -> None:
        self.settings = settings
        self.poll_s = poll_s
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
        """Claim and run one job; False when there was none to claim."""
        job = jobs.claim_next(self.engine, self.name)
        if job is None:
            return False
        self.current_job = job["id"]
        beat_stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(job["id"], beat_stop), name="import-heartbeat", daemon=True)
        beat.start()
        try:
            if job["status"] == "checking":
                self._check(job)
            else:
                self._import(job)
        except Exception:
            log.exception("import job %s (%s) failed", job["id"], job["file_name"])
            message = "处理文件时发生内部错误，未写入任何数据 (详情见服务日志)"
            status = "invalid" if job["status"] == "checking" else "failed"
            try:
                jobs.finish(self.engine, job["id"], self.name, status, message=message)
            except SQLAlchemyError:
                log.exception("could not record the failure of import job %s", job["id"])
        finally:
            beat_stop.set()
            beat.join(timeout=HEARTBEAT_S + 1)
            self.current_job = None
        return True

    def _beat(self, job_id: int, stop: threading.Event) -> None:
        while not stop.wait(HEARTBEAT_S):
            try:
                jobs.heartbeat(self.engine, job_id, self.name)
            except SQLAlchemyError:  # SQLite: an import transaction holds the write lock
                log.info("heartbeat of import job %s not written this time", job_id, exc_info=True)

    def _progress(self, job_id: int):
        last = {"step": None, "at": 0.0}

        def on_progress(step: str, done: int, total: int) -> None:
            now = time.monotonic()
            if step == last["step"] and now - last["at"] < PROGRESS_INTERVAL_S:
                return
            last["step"], last["at"] = step, now
            try:
                jobs.update_progress(self.engine, job_id, self.name, step, done, total)
            except SQLAlchemyError:
                log.info("progress of import job %s not written this time", job_id, exc_info=True)

        return on_progress

    def _check(self, job: dict) -> None:
        path = Path(job["stored_path"])
        mapping = json.loads(job["mapping"]) if job["mapping"] else None
        result = importer.check_file(path, self.settings, mapping=mapping, on_progress=self._progress(job["id"]))
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
                    preview=preview, step="完成")  # fmt: skip

    def _import(self, job: dict) -> None:
        path = Path(job["stored_path"])
        mapping = json.loads(job["mapping"]) if job["mapping"] else None
        kwargs = {}
        accepted = inspect.signature(importer.import_file).parameters
        if "source" in accepted:
            kwargs["source"] = "upload"
        if "created_by" in accepted:
            kwargs["created_by"] = job["created_by"]
        started = time.monotonic()
        result = importer.import_file(self.engine, path, self.settings, mapping=mapping,
                                      on_progress=self._progress(job["id"]), **kwargs)  # fmt: skip
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
                        error_count=max(1, errors), preview=preview)  # fmt: skip
            return
        if jobs.finish(self.engine, job["id"], self.name, "succeeded", message=result.message,
                       batch_id=result.batch_id, step="完成"):  # fmt: skip
            # the data is in the database and the batch row keeps name, size and SHA-256: the
            # stored copy is not needed any more (weekly 200 MB files would fill the disk)
            path.unlink(missing_ok=True)
