"""The import job queue: the ``import_jobs`` table (db.models.ImportJob), SQL only.

A job is one uploaded file and what is asked of it. Status flow (migration 0006):

    uploaded → checking → checked | invalid        (action "check": read and validate, write nothing)
    checked  → queued → running → succeeded | failed   (action "import"; an import failed
                                                         without errors found may be queued again)
    uploaded | checked | invalid | queued | failed → cancelled   (removed by the user)

``claim_next`` hands the oldest waiting job (``uploaded`` or ``queued``) to one worker, and only
while no job of the database is ``checking`` or ``running``: one file is read at a time per
database, whichever process claims it. On PostgreSQL the claim transaction first takes an
advisory transaction lock, so two processes never both see "nothing running" and claim; SQLite
serialises writers itself and the claim is a single UPDATE statement.

A worker writes ``heartbeat_at`` while it works (services.import_jobs, every few seconds). A
``checking`` / ``running`` job whose heartbeat is older than ``STALE_AFTER_S`` lost its process
(killed, machine restarted): its import transaction died with the process, so nothing of it was
written. The next claim marks it ``failed`` with a message saying so.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

from sqlalchemy import Engine, and_, delete, exists, func, insert, or_, select, text, update
from sqlalchemy.exc import IntegrityError

from db.models import ImportBatch, ImportJob, ImportMapping

WAITING = ("uploaded", "queued")  # claimable
WORKING = ("checking", "running")  # claimed: at most one per database
ACTIVE = ("uploaded", "checking", "queued", "running")
FINISHED = ("succeeded", "failed", "cancelled")
STATUSES = ("uploaded", "checking", "checked", "invalid", "queued", "running", "succeeded", "failed", "cancelled")
STALE_AFTER_S = 60.0
# pg_advisory_xact_lock key of the claim ("o2o-imp" as a number): any constant the app owns
CLAIM_LOCK_KEY = 0x6F326F2D696D70

STALE_MESSAGE = {
    "checking": "检查中断: 处理该文件的服务进程已停止 (被结束或重启)。未写入任何数据，请重新检查",
    "running": "导入中断: 处理该文件的服务进程已停止 (被结束或重启)。导入事务已回滚，未写入任何数据，请重新导入",
}


def _now() -> dt.datetime:
    return dt.datetime.now()


def create_job(
    engine: Engine,
    *,
    file_name: str,
    stored_path: str,
    size_bytes: int,
    sha256: str,
    created_by: str | None = None,
    mapping: dict[str, str] | None = None,
    mapping_name: str | None = None,
) -> int:
    """A new job waiting to be checked (``uploaded``); returns its id."""
    with engine.begin() as conn:
        return conn.execute(
            insert(ImportJob)
            .values(
                file_name=file_name,
                stored_path=stored_path,
                size_bytes=size_bytes,
                sha256=sha256,
                created_by=created_by,
                created_at=_now(),
                status="uploaded",
                action="check",
                step=None,
                lines_done=0,
                lines_total=0,
                mapping=json.dumps(mapping, ensure_ascii=False) if mapping else None,
                mapping_name=mapping_name,
                error_count=0,
            )
            .returning(ImportJob.id)
        ).scalar_one()


def fail_stale(conn, stale_after_s: float = STALE_AFTER_S, now: dt.datetime | None = None) -> int:
    """Mark ``failed`` the claimed jobs whose worker stopped beating (inside the caller's
    transaction); returns how many."""
    now = now or _now()
    cutoff = now - dt.timedelta(seconds=stale_after_s)
    count = 0
    for status, message in STALE_MESSAGE.items():
        count += conn.execute(
            update(ImportJob)
            .where(ImportJob.status == status,
                   or_(ImportJob.heartbeat_at.is_(None), ImportJob.heartbeat_at < cutoff))
            .values(status="failed", step=None, message=message, finished_at=now)
        ).rowcount  # fmt: skip
    return count


def claim_next(engine: Engine, worker: str, *, stale_after_s: float = STALE_AFTER_S) -> dict | None:
    """Claim the oldest waiting job for ``worker`` (its row as a dict, status now ``checking`` or
    ``running``), or None when nothing waits or a job of this database is being worked on."""
    now = _now()
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CLAIM_LOCK_KEY})
        fail_stale(conn, stale_after_s, now)
        busy = exists().where(ImportJob.status.in_(WORKING))
        oldest = select(func.min(ImportJob.id)).where(ImportJob.status.in_(WAITING)).scalar_subquery()
        # one statement: SQLite takes its write lock for it, so no other claim runs in between
        row = conn.execute(
            update(ImportJob)
            .where(ImportJob.id == oldest, ImportJob.status.in_(WAITING), ~busy)
            .values(
                status=_claimed_status(),
                worker=worker,
                step=None,
                lines_done=0,
                lines_total=0,
                heartbeat_at=now,
                started_at=now,
                finished_at=None,
            )
            .returning(*ImportJob.__table__.columns)
        ).mappings().first()
    return dict(row) if row is not None else None


def _claimed_status():
    from sqlalchemy import case

    return case((ImportJob.status == "queued", "running"), else_="checking")


def update_progress(
    engine: Engine, job_id: int, worker: str, step: str | None, lines_done: int, lines_total: int
) -> bool:
    """Progress of a claimed job (and its heartbeat); False when ``worker`` no longer holds it."""
    with engine.begin() as conn:
        return conn.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.worker == worker, ImportJob.status.in_(WORKING))
            .values(step=step, lines_done=int(lines_done), lines_total=int(lines_total), heartbeat_at=_now())
        ).rowcount == 1


def heartbeat(engine: Engine, job_id: int, worker: str) -> bool:
    """The worker holding ``job_id`` is alive; False when it no longer holds it."""
    with engine.begin() as conn:
        return conn.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.worker == worker, ImportJob.status.in_(WORKING))
            .values(heartbeat_at=_now())
        ).rowcount == 1


def finish(
    engine: Engine,
    job_id: int,
    worker: str,
    status: str,
    *,
    message: str | None = None,
    error_count: int | None = None,
    preview: dict | None = None,
    batch_id: int | None = None,
    step: str | None = None,
    lines: tuple[int, int] | None = None,
) -> bool:
    """The outcome of a claimed job (``checked``/``invalid`` for a check, ``succeeded``/``failed``
    for an import; ``lines``: the last (done, total) progress). It is written even when a claim
    meanwhile took the job for stale (a long SQLite write can hold back the heartbeat): what
    happened wins over the guess."""
    if status not in ("checked", "invalid", "succeeded", "failed"):
        raise ValueError(f"not a final status: {status}")
    values: dict = {"status": status, "message": message, "finished_at": _now(), "step": step}
    if error_count is not None:
        values["error_count"] = error_count
    if preview is not None:
        values["preview"] = json.dumps(preview, ensure_ascii=False, default=str)
    if batch_id is not None:
        values["batch_id"] = batch_id
    if lines is not None:
        values["lines_done"], values["lines_total"] = lines
    with engine.begin() as conn:
        return conn.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.worker == worker,
                   or_(ImportJob.status.in_(WORKING), ImportJob.status == "failed"))
            .values(**values)
        ).rowcount == 1  # fmt: skip


def requeue_check(engine: Engine, job_id: int, mapping: dict[str, str] | None, mapping_name: str | None) -> bool:
    """Check the job again with another mapping (from ``checked``, ``invalid`` or a failed
    check); False when it is in no such state."""
    redo = or_(ImportJob.status.in_(("checked", "invalid")),
               and_(ImportJob.status == "failed", ImportJob.action == "check"))  # fmt: skip
    with engine.begin() as conn:
        return conn.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, redo)
            .values(
                status="uploaded", action="check", step=None, lines_done=0, lines_total=0,
                mapping=json.dumps(mapping, ensure_ascii=False) if mapping else None,
                mapping_name=mapping_name, preview=None, error_count=0, message=None,
                worker=None, heartbeat_at=None, started_at=None, finished_at=None,
            )
        ).rowcount == 1  # fmt: skip


def enqueue_import(engine: Engine, job_id: int) -> bool:
    """Queue a job whose check passed without errors, or whose import was cut off (its process
    died) without errors found; False otherwise."""
    ready = or_(ImportJob.status == "checked", and_(ImportJob.status == "failed", ImportJob.action == "import"))
    with engine.begin() as conn:
        return conn.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ready, ImportJob.error_count == 0)
            .values(status="queued", action="import", step=None, lines_done=0, lines_total=0,
                    message=None, worker=None, heartbeat_at=None, started_at=None, finished_at=None)
        ).rowcount == 1  # fmt: skip


def cancel(engine: Engine, job_id: int) -> bool:
    """Mark a job ``cancelled`` unless a worker holds it or it was imported; False then."""
    with engine.begin() as conn:
        return conn.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, ImportJob.status.not_in((*WORKING, "succeeded", "cancelled")))
            .values(status="cancelled", step=None, finished_at=_now())
        ).rowcount == 1


def stored_paths(engine: Engine) -> list[str]:
    """Where every job's upload is (or was) stored."""
    with engine.connect() as conn:
        return list(conn.execute(select(ImportJob.stored_path)).scalars())


def active_jobs(engine: Engine) -> list[dict]:
    """The jobs waiting or being worked on (a read: what a worker looks at before claiming)."""
    query = (
        select(ImportJob.id, ImportJob.status, ImportJob.heartbeat_at, ImportJob.stored_path, ImportJob.worker)
        .where(ImportJob.status.in_(ACTIVE))
        .order_by(ImportJob.id)
    )
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def _columns(with_preview: bool) -> list:
    """The row's columns; the preview (tens of KB for a broken file) only when asked for."""
    return [c for c in ImportJob.__table__.columns if with_preview or c.name != "preview"]


def _select(with_preview: bool):
    """The job's columns and ``batch_status``: what became of the batch it imported (an import
    undone later shows as such)."""
    batch = ImportBatch.__table__
    return select(*_columns(with_preview), batch.c.status.label("batch_status")).select_from(
        ImportJob.__table__.outerjoin(batch, batch.c.id == ImportJob.batch_id)
    )


def get_job(engine: Engine, job_id: int, *, with_preview: bool = False) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(_select(with_preview).where(ImportJob.id == job_id)).mappings().first()
    return dict(row) if row is not None else None


def list_jobs(engine: Engine, statuses: Sequence[str] | None = None, limit: int = 200) -> list[dict]:
    """Jobs newest first (``statuses``: only those), without their previews."""
    query = _select(False).order_by(ImportJob.id.desc()).limit(limit)
    if statuses is not None:
        query = query.where(ImportJob.status.in_(tuple(statuses)))
    with engine.connect() as conn:
        return [dict(row) for row in conn.execute(query).mappings()]


def previous_import(engine: Engine, sha256: str) -> tuple[int, dt.datetime] | None:
    """(batch id, when) of the last successful import of a file with this content, if any."""
    with engine.connect() as conn:
        row = conn.execute(
            select(ImportBatch.id, ImportBatch.started_at)
            .where(ImportBatch.sha256 == sha256, ImportBatch.status == "succeeded")
            .order_by(ImportBatch.id.desc())
            .limit(1)
        ).first()
    return (row.id, row.started_at) if row is not None else None


def saved_mappings(engine: Engine) -> list[tuple[str, dict[str, str]]]:
    with engine.connect() as conn:
        rows = conn.execute(select(ImportMapping.name, ImportMapping.mapping).order_by(ImportMapping.name)).all()
    return [(name, json.loads(mapping)) for name, mapping in rows]


def save_mapping(engine: Engine, name: str, mapping: dict[str, str], created_by: str | None = None) -> None:
    """Store ``mapping`` under ``name``; an existing mapping of that name is replaced."""
    body = json.dumps(mapping, ensure_ascii=False, sort_keys=True)
    now = _now()
    for _ in range(2):  # a concurrent insert of the same name: the second round updates it
        with engine.begin() as conn:
            changed = conn.execute(
                update(ImportMapping).where(ImportMapping.name == name).values(mapping=body, updated_at=now)
            ).rowcount
            if changed:
                return
            try:
                with conn.begin_nested():
                    conn.execute(insert(ImportMapping).values(
                        name=name, mapping=body, created_by=created_by, created_at=now, updated_at=now))  # fmt: skip
                return
            except IntegrityError:
                continue


def delete_mapping(engine: Engine, name: str) -> bool:
    with engine.begin() as conn:
        return conn.execute(delete(ImportMapping).where(ImportMapping.name == name)).rowcount == 1
