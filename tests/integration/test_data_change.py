"""A change committed by one process of the host (an import, an undo) is seen by the next request
of every other process of the host, not only after the next periodic version check: a page
opened once the import says 成功 shows the imported store."""

from __future__ import annotations

import threading

from db import version
from db.importer import import_file
from db.importer.undo import undo_batch
from services.runtime import Runtime
from tests.factories import order, sheet, write_csv


def _file(path, store: str, code: str):
    rows = order(f"{code}-1", "2026-11-02 12:00:00", [{"received_price": 30.0, "cost": 12.0}],
                 store_name=store, store_code=code)  # fmt: skip
    return write_csv(sheet(rows), path)


def _store_names(worker: Runtime) -> set[str]:
    return set(worker.tables.table("stores")["name"])


def test_change001_another_process_sees_an_import_and_an_undo_at_once(engine, settings, tmp_path, monkeypatch):
    # no periodic check within the test: only the announcement can make the other look again
    monkeypatch.setattr(version, "VERSION_CHECK_S", 3600.0)
    first = import_file(engine, _file(tmp_path / "a.csv", "测试-甲店", "S001"), settings)
    assert first.status == "imported", first.message
    other = Runtime(settings=settings, engine=engine)  # another worker of the host: own watch
    assert _store_names(other) == {"测试-甲店"}

    checked = []

    def other_checks_while_the_import_writes(step: str, done: int, total: int) -> None:
        if step == "写入" and not checked:  # before the commit: the other reads the old version
            checked.append(other.versions.stamp())

    second = import_file(engine, _file(tmp_path / "b.csv", "测试-乙店", "S002"), settings,
                         on_progress=other_checks_while_the_import_writes)  # fmt: skip
    assert second.status == "imported", second.message
    assert len(checked) == 1
    assert _store_names(other) == {"测试-甲店", "测试-乙店"}

    other.versions.stamp()  # checked just now, then the undo commits in "another process"
    undone = undo_batch(engine, second.batch_id, data_dir=settings.data_dir)
    assert undone.data_version is not None
    assert _store_names(other) == {"测试-甲店"}


def test_change002_a_check_that_began_before_the_commit_is_not_taken_for_the_news(tmp_path, monkeypatch):
    """A version check already running when the announcement lands may have read the old
    version: the request that hears the news waits for it, then checks once more."""
    monkeypatch.setattr(version, "VERSION_CHECK_S", 0.0)  # every call may start a check
    database = {"version": 1}
    release = threading.Event()
    reads = []

    def reader() -> tuple[int, str]:
        seen = database["version"]  # read at the start: a check that began before the commit
        reads.append(seen)
        if len(reads) == 2:
            release.wait(5)
        return seen, "db"

    watch = version.VersionWatch(reader, cold_wait_s=5.0, announced=version.announcement_path(tmp_path))
    assert watch.stamp().version == 1
    monkeypatch.setattr(version, "VERSION_CHECK_S", 3600.0)
    watch._checked = None  # the next call starts the second check, which hangs on ``release``
    watch.stamp()
    database["version"] = 2  # the commit, then its announcement, while that check still runs
    version.announce_change(tmp_path, 2)
    threading.Timer(0.2, release.set).start()
    assert watch.stamp().version == 2
    assert reads == [1, 1, 2]
