"""数据管理's callbacks as the browser calls them (Flask test client posting to
/_dash-update-component; the app's own import worker), on SQLite and PostgreSQL: what the browser
test does not reach — a column chosen in the preview and checked again, a mapping saved by name
and applied to another file, 撤销 refused the second time, a database that does not answer."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

import pytest

from app import create_app, stop_app
from components import ids, import_views
from components.import_views import STALLED
from components.messages import DB_UNAVAILABLE
from config import Settings
from scripts import _dash_protocol as dp
from services import imports
from services.runtime import EXTENSION_KEY
from tests.factories import write_csv
from tests.integration.jobs_helpers import assert_database_holds, orders_sheet
from tests.integration.jobs_helpers import wait_for_job as _wait

UPLOAD_HEADERS = {"X-Requested-With": "o2o-upload", "Content-Type": "application/octet-stream"}
OWN_NAME = "到手价"  # a header no alias knows: the user says it is 实收价格


@pytest.fixture
def page_app(engine, settings):  # engine: the database migrated to head
    app = create_app(settings, start_monitors=False, start_worker=True)
    yield app, app.server.extensions[EXTENSION_KEY], app.server.test_client()
    stop_app(app)


def _dep(client, output: str) -> dict:
    deps = client.get("/_dash-dependencies").json
    return next(d for d in deps if output in d["output"])


def _entry(component_id, prop: str, value) -> dict:
    return {"id": component_id, "property": prop, "value": value}


def _call(client, output: str, inputs: list, state: list, changed: list[tuple]) -> dict:
    """Post one callback request (``output``: part of its output string); the response's
    {id: {prop: value}} with dict ids as Dash writes them."""
    dep = _dep(client, output)
    outputs = [{"id": dp.parse_id(c), "property": p} for c, p in dp.split_output(dep["output"])]
    changed_ids = [f"{dp.stringify_id(c, browser=True)}.{p}" for c, p in changed]
    body = {"output": dep["output"], "outputs": outputs if dp.is_multi(dep) else outputs[0], "inputs": inputs,
            "state": state, "changedPropIds": changed_ids}  # fmt: skip
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code in (200, 204), response.get_data(as_text=True)[:500]
    return response.json["response"] if response.status_code == 200 else {}


def _text(node) -> str:
    return json.dumps(node, ensure_ascii=False)


def _upload(client, path: Path, runtime) -> imports.JobView:
    headers = {**UPLOAD_HEADERS, "X-File-Name": quote(path.name)}
    answer = client.post("/data/upload", data=path.read_bytes(), headers=headers)
    assert answer.status_code == 200, answer.json
    return _wait(runtime, answer.json["job"]["id"])


def _detail(client, job_id: int) -> dict:
    """The detail section of ``job_id`` as the page renders it, and its selects by field."""
    response = _call(client, f"{ids.DATA_DETAIL}.children", [_entry(ids.DATA_SELECTED_SIG, "data", f"sig-{job_id}")],
                     [_entry(ids.DATA_SELECTED, "data", job_id)], [(ids.DATA_SELECTED_SIG, "data")])  # fmt: skip
    tree = response[ids.DATA_DETAIL]["children"]
    selects = {}
    for component in dp.walk(tree):
        if isinstance(component.id, dict) and component.id.get("type") == ids.DATA_MAP_FIELD:
            selects[component.id["field"]] = component.props
    return {"tree": tree, "selects": selects}


def _act(client, job_id: int, name: str, selects: dict | None = None, saved: str | None = None,
         new_name: str | None = None) -> str:  # fmt: skip
    """Click button ``name`` of job ``job_id`` with the detail's selects as ``selects`` shows them."""
    button = {"type": ids.DATA_ACTION, "action": name, "job": job_id, "where": "detail"}
    fields = [_entry({"type": ids.DATA_MAP_FIELD, "field": f}, "value", p["value"]) for f, p in (selects or {}).items()]
    state = [fields, [_entry({"type": ids.DATA_MAP_SAVED, "job": job_id}, "value", saved)],
             [_entry({"type": ids.DATA_MAP_NAME, "job": job_id}, "value", new_name)],
             _entry(ids.DATA_SELECTED, "data", job_id), _entry(ids.DATA_CHANGED, "data", 0)]  # fmt: skip
    response = _call(client, f"{ids.DATA_MESSAGE}.children", [[_entry(button, "n_clicks", 1)]], state,
                     [(button, "n_clicks")])  # fmt: skip
    return _text(response.get(ids.DATA_MESSAGE, {}).get("children"))


def _job_list(client, shown: str = "") -> tuple[str, str]:
    """The job list as a poll renders it (its text, "" when unchanged) and its signature;
    ``shown``: the signature of what the page shows now."""
    response = _call(client, f"{ids.DATA_JOBS}.children",
                     [_entry(ids.DATA_TICK, "n_intervals", 1), _entry(ids.DATA_UPLOADED, "n_clicks", 0),
                      _entry(ids.DATA_CHANGED, "data", 0), _entry(ids.DATA_SELECTED, "data", None)],
                     [_entry(ids.DATA_JOBS_SIG, "data", shown), _entry(ids.DATA_SELECTED_SIG, "data", ""),
                      _entry(ids.DATA_HISTORY_SIG, "data", "")], [(ids.DATA_TICK, "n_intervals")])  # fmt: skip
    children = response.get(ids.DATA_JOBS, {}).get("children")
    return ("" if children is None else _text(children)), response[ids.DATA_JOBS_SIG]["data"]


def test_datapage001_column_chosen_in_the_preview_saved_applied_imported_undone(page_app, tmp_path):
    _app, runtime, client = page_app
    frame = orders_sheet(40, seed=9).rename(columns={"实收价格": OWN_NAME})
    first = write_csv(frame, tmp_path / "自有格式-第1周.csv")

    # the check misses 实收价格; the preview offers the file's headers, 到手价 among them
    job = _upload(client, first, runtime)
    assert job.status == "invalid"
    detail = _detail(client, job.id)
    select_ = detail["selects"]["received_price"]
    assert select_["value"] == "" and OWN_NAME in [o["value"] for o in select_["options"]]
    assert '"data-how": "missing_required"' in _text(detail["tree"])

    # 到手价 chosen for 实收价格 → checked again with it → passes, shown as 手动
    detail["selects"]["received_price"]["value"] = OWN_NAME
    assert "重新校验" in _act(client, job.id, "recheck", detail["selects"])
    job = _wait(runtime, job.id)
    assert job.status == "checked", job.message
    detail = _detail(client, job.id)
    assert detail["selects"]["received_price"]["value"] == OWN_NAME
    manual = [f for f in imports.job_preview(runtime, job.id)["mapping"]["fields"] if f["how"] == "manual"]
    assert [(f["field"], f["source"]) for f in manual] == [("received_price", OWN_NAME)]

    # saved by name: every field as the selects show it
    assert "已保存映射「自有格式」" in _act(client, job.id, "save", detail["selects"], new_name=" 自有格式 ")
    saved = dict(imports.saved_mappings(runtime))["自有格式"]
    assert saved["received_price"] == OWN_NAME
    assert saved == {f: p["value"] for f, p in detail["selects"].items() if p["value"]}

    # the next week's file of the same layout: applying the saved mapping makes it pass
    second = write_csv(orders_sheet(25, seed=10, prefix="WK2").rename(columns={"实收价格": OWN_NAME}),
                       tmp_path / "自有格式-第2周.csv")  # fmt: skip
    other = _upload(client, second, runtime)
    assert other.status == "invalid"
    assert "已应用映射「自有格式」" in _act(client, other.id, "apply", saved="自有格式")
    other = _wait(runtime, other.id)
    assert other.status == "checked" and other.mapping_name == "自有格式", other.message

    # 导入 both; the database holds exactly the two files' orders (pandas over the raw lines)
    for job_id in (job.id, other.id):
        assert "已开始导入" in _act(client, job_id, "import")
    done = [_wait(runtime, job_id) for job_id in (job.id, other.id)]
    assert [d.status for d in done] == ["succeeded", "succeeded"], [d.message for d in done]
    assert_database_holds(runtime.engine, first, second, renames={OWN_NAME: "实收价格"})

    # 导入历史 lists both batches; 撤销 of the second (confirm) leaves exactly the first file
    history = _call(client, f"{ids.DATA_HISTORY}.children", [_entry(ids.DATA_HISTORY_SIG, "data", "x"),
                    _entry(ids.DATA_HISTORY_CHANGED, "data", 0)], [], [(ids.DATA_HISTORY_SIG, "data")])  # fmt: skip
    grid = next(c.props for c in dp.walk(history[ids.DATA_HISTORY]["children"])
                if isinstance(c.id, dict) and c.id["type"] == "grid")  # fmt: skip
    rows = {r["file_name"]: r for r in grid["rowData"]}
    assert rows[second.name]["rows"] == len(read_lines(second)) and rows[second.name]["action"] == "撤销"
    assert rows[second.name]["orders"] == 25 and rows[second.name]["source_text"] == "网页上传"
    assert history[ids.DATA_REMOVE_DEMO]["className"] == "d-none"  # no demo batch here

    batch = rows[second.name]["batch_key"]
    message = _confirm(client, grid["rowData"], cell={"colId": "action", "rowId": batch, "value": "撤销"})
    assert message["open"] and message["target"] == f"undo:{batch}" and second.name in message["body"]
    result = _confirm(client, grid["rowData"], ok=f"undo:{batch}")
    assert "删除订单 25 单" in result["message"], result
    assert_database_holds(runtime.engine, first, renames={OWN_NAME: "实收价格"})
    jobs_text = _job_list(client)[0]  # the upload's own row says its batch was undone
    assert jobs_text.count("已导入，批次已撤销") == 1 and jobs_text.count("已导入") == 2, jobs_text
    again = _confirm(client, grid["rowData"], ok=f"undo:{batch}")
    assert "不能再次撤销" in again["message"]
    assert_database_holds(runtime.engine, first, renames={OWN_NAME: "实收价格"})


def read_lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8-sig").splitlines()[1:]


def _confirm(client, rows: list, *, cell: dict | None = None, ok: str | None = None) -> dict:
    grid = {"type": "grid", "page": ids.DATA_PAGE, "table": "history"}
    inputs = [[_entry(grid, "cellClicked", cell)], _entry(ids.DATA_REMOVE_DEMO, "n_clicks", None),
              _entry(ids.DATA_CONFIRM_OK, "n_clicks", 1 if ok else None),
              _entry(ids.DATA_CONFIRM_CANCEL, "n_clicks", None)]  # fmt: skip
    state = [[_entry(grid, "rowData", rows)], _entry(ids.DATA_CONFIRM_TARGET, "data", ok or ""),
             _entry(ids.DATA_HISTORY_CHANGED, "data", 0)]  # fmt: skip
    changed = [(ids.DATA_CONFIRM_OK, "n_clicks")] if ok else [(grid, "cellClicked")]
    response = _call(client, f"{ids.DATA_CONFIRM}.is_open", inputs, state, changed)
    return {"open": response.get(ids.DATA_CONFIRM, {}).get("is_open"),
            "body": _text(response.get(ids.DATA_CONFIRM_BODY, {}).get("children")),
            "target": response.get(ids.DATA_CONFIRM_TARGET, {}).get("data"),
            "message": _text(response.get(ids.DATA_HISTORY_MESSAGE, {}).get("children"))}  # fmt: skip


def test_datapage002_database_down_is_a_message_never_a_traceback(tmp_path):
    """Nothing listens on port 1: every section says the database is unavailable."""
    settings = Settings.from_env({}, database_url="postgresql://postgres@127.0.0.1:1/none",
                                 data_dir=tmp_path / "var", db_timeout_s=2.0)  # fmt: skip
    app = create_app(settings, start_monitors=False, start_worker=False)
    client = app.server.test_client()
    try:
        assert client.get("/data").status_code == 200
        assert DB_UNAVAILABLE in _job_list(client)[0]
        history = _call(client, f"{ids.DATA_HISTORY}.children", [_entry(ids.DATA_HISTORY_SIG, "data", "x"),
                        _entry(ids.DATA_HISTORY_CHANGED, "data", 0)], [], [(ids.DATA_HISTORY_SIG, "data")])  # fmt: skip
        assert DB_UNAVAILABLE in _text(history[ids.DATA_HISTORY]["children"])
        assert DB_UNAVAILABLE in _text(_detail(client, 1)["tree"])
        assert "数据库暂时无法访问" in _act(client, 1, "import")
        assert "未做任何更改" in _confirm(client, [], ok="undo:1")["message"]
    finally:
        stop_app(app)


def test_datapage004_no_worker_for_a_while_is_said_in_the_list(engine, settings, tmp_path, monkeypatch):
    """Every process started with O2O_IMPORT_WORKER=0: an upload waits for ever; after a while
    (a minute; 2 s here) the list says why, though the job row itself has not changed."""
    monkeypatch.setattr(import_views, "STALL_AFTER_S", 2.0)
    app = create_app(settings, start_monitors=False, start_worker=False)
    client = app.server.test_client()
    try:
        path = write_csv(orders_sheet(5, seed=2), tmp_path / "门店订单.csv")
        answer = client.post("/data/upload", data=path.read_bytes(),
                             headers={**UPLOAD_HEADERS, "X-File-Name": quote(path.name)})  # fmt: skip
        assert answer.status_code == 200, answer.json
        text, shown = _job_list(client)
        assert "等待检查" in text and STALLED not in text
        assert _job_list(client, shown)[0] == ""  # nothing changed: the list is not sent again
        time.sleep(2.5)
        assert STALLED in _job_list(client, shown)[0]
    finally:
        stop_app(app)


def test_datapage003_column_cleared_in_the_preview_is_not_imported(page_app, tmp_path):
    _app, runtime, client = page_app
    job = _upload(client, write_csv(orders_sheet(10, seed=4), tmp_path / "门店订单.csv"), runtime)
    assert job.status == "checked", job.message
    detail = _detail(client, job.id)
    assert detail["selects"]["city"]["value"] == "城市"
    detail["selects"]["city"]["value"] = ""  # （不导入）
    _act(client, job.id, "recheck", detail["selects"])
    job = _wait(runtime, job.id)
    fields = {f["field"]: f for f in imports.job_preview(runtime, job.id)["mapping"]["fields"]}
    assert fields["city"]["source"] is None and "城市" in imports.job_preview(runtime, job.id)["mapping"]["ignored"]
