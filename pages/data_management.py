"""数据管理 — upload order exports, check them (mapping preview, validation report), import them
in the background with live progress, and look back over (and undo) what was imported.

Uploads never pass through Dash: assets/data_upload.js streams each file to POST /data/upload
and clicks a hidden button when it is in. The jobs themselves run in the import worker; this page
only reads their rows (every second while one is active, so a job started before the page was
opened shows its progress) and asks the services to act on them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, dcc, html

from components import ids
from components.export import TEXT_FIELD
from components.grid import column, data_grid
from components.import_views import (
    STALLED,
    WORKING,
    action,
    full_mapping,
    in_list,
    job_table,
    mapping_from_selects,
    mapping_table,
    report_view,
    size_text,
    stalled,
    when,
)
from components.messages import DB_UNAVAILABLE, SECTION_FAILED, error_alert, info_alert
from pages._downloads import register_export
from services import imports
from services.errors import DataLayerError, UndoRefusedError
from services.import_history import database_guard, has_demo, history_rows, remove_demo_data, undo
from services.runtime import get_runtime
from web.prop_kinds import CELL, COUNT, ROW_ID, TEXT, declare

PATH = "/data"
dash.register_page(__name__, path=PATH, name="数据管理", title="数据管理 · 门店诊断看板", order=80)

log = logging.getLogger(__name__)
ACTIVE_REFRESH_MS = 1000  # while a job is checked or imported: its progress every second
IDLE_REFRESH_MS = 5000  # otherwise: a job enqueued from another tab or process shows within 5 s
EDITABLE = ("checked", "invalid")  # the mapping can be changed and the file checked again
ACTIONS = ("view", "import", "remove", "recheck", "apply", "save")  # the job buttons (components.import_views)
HISTORY_TABLE = "history"
UNDO_COLUMN = "action"
UNDO_TEXT = "撤销"
ROW_KEY = "batch_key"  # the batch id as text: the grid's row id
STATUS_TEXT = {"running": "导入中", "succeeded": "成功", "failed": "失败", "undone": "已撤销"}
SOURCE_TEXT = {"cli": "命令行", "upload": "网页上传", "demo": "演示数据"}
DEMO_TARGET = "demo"
UNDO_PREFIX = "undo:"

HISTORY_COLUMNS = [
    column("id", "批次", "count", maxWidth=90, minWidth=80),
    column("file_name", "文件", minWidth=220),
    {**column("size_bytes", "大小", "count", context={TEXT_FIELD: "size_text"}),
     "valueFormatter": {"function": "o2oBytes(params.value)"}},
    column("sha256_short", "SHA-256", tooltipField="sha256"),
    column("started_at", "导入时间", "datetime", sort="desc", minWidth=150),
    column("rows", "行数", "count"), column("orders", "订单数", "count"), column("stores", "门店数", "count"),
    column("days", "日期范围", minWidth=200),
    column("duration_s", "耗时 (秒)", "number"),
    column("status_text", "状态"), column("error_count", "错误数", "count"),
    column("source_text", "来源"), column("created_by", "操作人"),
    column(UNDO_COLUMN, "操作", cellClass="o2o-grid-action", sortable=False, filter=False, pinned="right",
           minWidth=80, maxWidth=90),
]  # fmt: skip

register_export(ids.DATA_PAGE)
for component_id, prop, kind in (
    (ids.DATA_TICK, "n_intervals", COUNT), (ids.DATA_UPLOADED, "n_clicks", COUNT),
    (ids.DATA_CHANGED, "data", COUNT), (ids.DATA_SELECTED, "data", ROW_ID),
    (ids.DATA_SELECTED_SIG, "data", TEXT), (ids.DATA_JOBS_SIG, "data", TEXT),
    (ids.DATA_HISTORY_SIG, "data", TEXT), (ids.DATA_HISTORY_CHANGED, "data", COUNT),
    (ids.DATA_REMOVE_DEMO, "n_clicks", COUNT), (ids.DATA_CONFIRM_OK, "n_clicks", COUNT),
    (ids.DATA_CONFIRM_CANCEL, "n_clicks", COUNT), (ids.DATA_CONFIRM_TARGET, "data", TEXT),
    ({"type": ids.DATA_ACTION}, "n_clicks", COUNT), ({"type": ids.DATA_MAP_FIELD}, "value", TEXT),
    ({"type": ids.DATA_MAP_SAVED}, "value", TEXT), ({"type": ids.DATA_MAP_NAME}, "value", TEXT),
    ({"type": "grid"}, "cellClicked", CELL),
):  # fmt: skip
    declare(component_id, prop, kind)


def layout(**_query: str) -> html.Div:
    limit = get_runtime().settings.max_import_bytes
    drop = html.Div(
        [
            html.Div("把 CSV / XLSX 文件拖到这里，或", className="mb-2"),
            dbc.Button("选择文件", id=ids.DATA_CHOOSE, color="primary", size="sm"),
            html.Div(f"可一次选择多个文件；单个文件不超过 {size_text(limit)}。上传后先自动校验，确认无误再导入。",
                     className="small text-muted mt-2"),
        ],
        id=ids.DATA_DROP, className="data-drop",
        **{"data-url": dash.get_relative_path("/data/upload"), "data-limit": str(limit)},
    )  # fmt: skip
    upload = dbc.Card(dbc.CardBody([
        html.Div([html.H5("上传文件", className="mb-0 me-auto"),
                  html.A("下载模板", href=dash.get_relative_path("/data/template.xlsx"), download="",
                         className="btn btn-outline-secondary btn-sm")], className="d-flex mb-2"),
        drop,
        html.Div(id=ids.DATA_UPLOADS, className="mt-2"),
        html.Button(id=ids.DATA_UPLOADED, n_clicks=0, style={"display": "none"}),
    ]), className="mb-3 shadow-sm")  # fmt: skip
    jobs = dbc.Card(dbc.CardBody([
        html.H5("待处理文件", className="mb-2"),
        html.Div(id=ids.DATA_MESSAGE),
        html.Div(info_alert("正在读取文件列表…"), id=ids.DATA_JOBS),
    ]), className="mb-3 shadow-sm")  # fmt: skip
    history = dbc.Card(dbc.CardBody([
        html.Div([html.Div("每次导入一行（命令行、网页上传、演示数据），可排序、筛选和下载。",
                           className="small text-muted me-auto align-self-center"),
                  dbc.Button("移除演示数据", id=ids.DATA_REMOVE_DEMO, color="danger", outline=True, size="sm",
                             className="d-none")], className="d-flex mb-2"),
        html.Div(id=ids.DATA_HISTORY_MESSAGE),
        html.Div(info_alert("正在读取导入历史…"), id=ids.DATA_HISTORY),
    ]), className="mb-3 shadow-sm")  # fmt: skip
    confirm = dbc.Modal([
        dbc.ModalHeader(dbc.ModalTitle("请确认")),
        dbc.ModalBody(id=ids.DATA_CONFIRM_BODY),
        dbc.ModalFooter([dbc.Button("取消", id=ids.DATA_CONFIRM_CANCEL, color="secondary", outline=True),
                         dbc.Button("确认撤销", id=ids.DATA_CONFIRM_OK, color="danger")]),
    ], id=ids.DATA_CONFIRM, is_open=False)  # fmt: skip
    # the job shown stays shown over a reload (the tab's session storage)
    stores = [dcc.Store(id=ids.DATA_SELECTED, storage_type="session")]
    stores += [dcc.Store(id=i, data=d) for i, d in ((ids.DATA_SELECTED_SIG, ""),
                                                   (ids.DATA_JOBS_SIG, ""), (ids.DATA_CHANGED, 0),
                                                   (ids.DATA_HISTORY_SIG, ""), (ids.DATA_HISTORY_CHANGED, 0),
                                                   (ids.DATA_CONFIRM_TARGET, ""))]  # fmt: skip
    return html.Div([
        html.H2("数据管理", className="mt-3 mb-1"),
        html.P("上传平台导出的订单明细，校验通过后导入；导入在后台进行，关闭页面也不会中断，重新打开即可看到进度。",
               className="text-muted small"),
        dcc.Interval(id=ids.DATA_TICK, interval=IDLE_REFRESH_MS, n_intervals=0),
        *stores, upload, jobs,
        dbc.Card(dbc.CardBody(html.Div(id=ids.DATA_DETAIL)), className="mb-3 shadow-sm"),
        history, confirm,
    ])  # fmt: skip


def _failure(what: str) -> dbc.Alert:
    """The alert for an unexpected failure (logged with its traceback by the caller)."""
    log.exception("数据管理: %s failed", what)
    return error_alert(SECTION_FAILED)


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


# -- 待处理文件 ---------------------------------------------------------------------------------
@dash.callback(
    Output(ids.DATA_JOBS, "children"), Output(ids.DATA_JOBS_SIG, "data"), Output(ids.DATA_TICK, "interval"),
    Output(ids.DATA_SELECTED_SIG, "data"), Output(ids.DATA_HISTORY_SIG, "data"),
    Input(ids.DATA_TICK, "n_intervals"), Input(ids.DATA_UPLOADED, "n_clicks"), Input(ids.DATA_CHANGED, "data"),
    Input(ids.DATA_SELECTED, "data"),
    State(ids.DATA_JOBS_SIG, "data"), State(ids.DATA_SELECTED_SIG, "data"), State(ids.DATA_HISTORY_SIG, "data"),
)  # fmt: skip
def refresh_jobs(_tick, _uploaded, _changed, selected, shown, selected_shown, history_shown):
    """The job list (rendered again only when what it shows changed, so its buttons stay put),
    the refresh rate, and the signatures the detail and the history follow."""
    try:
        with database_guard("job list"):
            jobs = imports.list_jobs(get_runtime(), include_finished=True)
    except DataLayerError as exc:  # polled every few seconds: one line each time, no traceback
        log.warning("数据管理: job list unavailable (%s)", exc)
        return error_alert(DB_UNAVAILABLE), "", IDLE_REFRESH_MS, dash.no_update, dash.no_update
    except Exception:
        return _failure("job list"), "", IDLE_REFRESH_MS, dash.no_update, dash.no_update
    now = dt.datetime.now()
    listed = [job for job in jobs if in_list(job, now)]
    waiting_in_vain = stalled(listed, now)
    signature = _digest([job.to_json() for job in listed] + [selected, waiting_in_vain])
    if not listed:
        children = info_alert("没有待处理的文件。上传文件后，这里会显示校验和导入的进度。")
    else:
        children = job_table(listed, selected)
        if waiting_in_vain:
            children = [dbc.Alert(STALLED, color="warning", className="py-2"), children]
    chosen = next((job for job in jobs if job.id == selected), None)
    detail_sig = "" if chosen is None else _digest([chosen.id, chosen.status, chosen.error_count,
                                                    chosen.mapping_name, chosen.finished_at])  # fmt: skip
    history_sig = _digest([(job.id, job.status) for job in jobs if not job.active])
    interval = ACTIVE_REFRESH_MS if any(job.active for job in jobs) else IDLE_REFRESH_MS
    return (dash.no_update if signature == shown else children, signature, interval,
            dash.no_update if detail_sig == selected_shown else detail_sig,
            dash.no_update if history_sig == history_shown else history_sig)  # fmt: skip


# -- the selected job: mapping preview and report ------------------------------------------------
@dash.callback(Output(ids.DATA_DETAIL, "children"), Input(ids.DATA_SELECTED_SIG, "data"),
               State(ids.DATA_SELECTED, "data"))  # fmt: skip
def show_detail(_signature, selected):
    if selected is None:
        return html.Div("点击文件的「查看」，在这里查看字段映射和校验结果。", className="text-muted small")
    runtime = get_runtime()
    try:
        with database_guard("job detail"):
            job = imports.get_job(runtime, int(selected))
            preview = imports.job_preview(runtime, int(selected)) if job is not None else None
            saved = imports.saved_mappings(runtime) if job is not None and job.status in EDITABLE else []
    except DataLayerError:
        log.exception("数据管理: job %s unavailable", selected)
        return error_alert(DB_UNAVAILABLE)
    except Exception:
        return _failure(f"job {selected} detail")
    if job is None:
        return info_alert("该文件已被移除。")
    return _detail(job, preview, saved)


def _detail(job, preview: dict | None, saved: list) -> html.Div:
    head = html.Div([html.H5(job.file_name, className="mb-0 me-2 text-break"),
                     html.Span(f"{size_text(job.size_bytes)} · 上传于 {when(job.created_at)} · {job.status_text}",
                               className="small text-muted")], className="mb-2")  # fmt: skip
    if preview is None:
        waiting = "正在校验文件，完成后这里显示字段映射和校验结果…" if job.status in ("uploaded", "checking") else (
            job.message or "还没有校验结果。")  # fmt: skip
        return html.Div([head, info_alert(waiting)], id=ids.DATA_DETAIL_BODY, **{"data-job": str(job.id)})
    parts = [head]
    if job.status in WORKING or job.status == "queued":
        parts.append(info_alert(f"{job.status_text}，进度见上方文件列表。"))
    elif job.status in ("succeeded", "failed") and job.message:
        parts.append(dbc.Alert(job.message, color="success" if job.status == "succeeded" else "danger"))
    if preview.get("message"):  # the file could not be read at all
        parts.append(dbc.Alert(preview["message"], color="danger"))
        return html.Div(parts, id=ids.DATA_DETAIL_BODY, **{"data-job": str(job.id)})
    editable = job.status in EDITABLE
    if preview.get("mapping"):
        parts.append(mapping_table(preview["mapping"], preview.get("headers") or [], editable))
        if editable:
            parts.append(_mapping_tools(job, saved))
    report = preview.get("report")
    if report:
        parts.append(html.H6("校验结果", className="mt-3"))
        href = dash.get_relative_path(f"/data/jobs/{job.id}/report.csv") if report["error_count"] else None
        parts.append(report_view(report, href))
    if job.status == "checked" and report and not report["error_count"]:
        parts.append(dbc.Button("导入", id=action(job.id, "import", "detail"), color="primary"))
    return html.Div(parts, id=ids.DATA_DETAIL_BODY, **{"data-job": str(job.id)})


def _mapping_tools(job, saved: list) -> html.Div:
    names = [{"label": name, "value": name} for name, _ in saved]
    recheck = dbc.Button("按此映射重新校验", id=action(job.id, "recheck", "detail"), color="primary", size="sm",
                         outline=True, className="me-3")  # fmt: skip
    apply = dbc.InputGroup([
        dbc.Select(id={"type": ids.DATA_MAP_SAVED, "job": job.id}, options=names,
                   value=job.mapping_name if job.mapping_name in {n for n, _ in saved} else None,
                   placeholder="已保存的映射" if names else "还没有保存的映射"),
        dbc.Button("应用", id=action(job.id, "apply", "detail"), color="secondary", disabled=not names),
    ], size="sm", style={"maxWidth": "320px"}, className="me-3")  # fmt: skip
    save = dbc.InputGroup([
        dbc.Input(id={"type": ids.DATA_MAP_NAME, "job": job.id}, placeholder="映射名称，如 美团闪购导出",
                  maxLength=100, value=job.mapping_name or ""),
        dbc.Button("保存当前映射", id=action(job.id, "save", "detail"), color="secondary"),
    ], size="sm", style={"maxWidth": "360px"})  # fmt: skip
    return html.Div([recheck, apply, save], className="d-flex flex-wrap align-items-center gap-2 mb-2")


# -- actions on jobs ---------------------------------------------------------------------------
@dash.callback(
    Output(ids.DATA_MESSAGE, "children"), Output(ids.DATA_SELECTED, "data"), Output(ids.DATA_CHANGED, "data"),
    Input({"type": ids.DATA_ACTION, "action": ALL, "job": ALL, "where": ALL}, "n_clicks"),
    State({"type": ids.DATA_MAP_FIELD, "field": ALL}, "value"),
    State({"type": ids.DATA_MAP_SAVED, "job": ALL}, "value"),
    State({"type": ids.DATA_MAP_NAME, "job": ALL}, "value"),
    State(ids.DATA_SELECTED, "data"), State(ids.DATA_CHANGED, "data"),
    prevent_initial_call=True,
)  # fmt: skip
def act_on_job(clicks, field_values, saved_names, new_names, selected, changed):
    trigger = dash.ctx.triggered_id
    if not isinstance(trigger, dict) or not any(t["value"] for t in dash.ctx.triggered):
        return dash.no_update, dash.no_update, dash.no_update  # buttons (re)rendered, nothing clicked
    job_id, name = trigger.get("job"), trigger.get("action")
    if not isinstance(job_id, int) or isinstance(job_id, bool) or name not in ACTIONS:
        return dash.no_update, dash.no_update, dash.no_update  # an id no page renders (a hand-made request)
    fields = [item["id"]["field"] for item in dash.ctx.states_list[0]]
    # the selects shown belong to the selected job; a button of another job's row ignores them
    shown = trigger.get("where") == "detail" and selected == job_id
    chosen = dict(zip(fields, field_values, strict=True)) if shown else {}
    bump = (changed or 0) + 1
    try:
        with database_guard(f"job action {name}"):
            message, selected = _run_action(name, job_id, chosen, _first(saved_names), _first(new_names), selected)
    except (imports.JobRefused, imports.UploadRefused) as exc:
        return dbc.Alert(exc.message, color="warning", dismissable=True), dash.no_update, bump
    except DataLayerError:
        log.exception("数据管理: job action %s on %s", name, job_id)
        return error_alert(DB_UNAVAILABLE), dash.no_update, bump
    except Exception:
        return _failure(f"job action {name} on {job_id}"), dash.no_update, bump
    return message, selected, bump


def _first(values: list) -> str | None:
    return values[0] if values else None


def _run_action(name: str, job_id: int, chosen: dict, saved_name: str | None, new_name: str | None,
                selected: int | None) -> tuple:  # fmt: skip
    """(message, selected job) after doing what button ``name`` of job ``job_id`` asks."""
    runtime = get_runtime()
    if name == "view":
        return None, job_id
    if name == "import":
        job = imports.start_import(runtime, job_id)
        return _ok(f"{job.file_name}：已开始导入，进度见下方列表。"), job_id
    if name == "remove":
        job = imports.get_job(runtime, job_id)
        imports.remove_job(runtime, job_id)
        label = job.file_name if job is not None else f"#{job_id}"
        return _ok(f"{label}：已从列表中移除。"), (None if selected == job_id else selected)
    preview = imports.job_preview(runtime, job_id)
    fields = ((preview or {}).get("mapping") or {}).get("fields") or []
    if name == "recheck":
        imports.set_mapping(runtime, job_id, mapping_from_selects(chosen, fields))
        return _ok("已按新的字段映射重新校验，请稍候…"), job_id
    if name == "apply":
        found = dict(imports.saved_mappings(runtime)).get(saved_name or "")
        if found is None:
            return dbc.Alert("请先选择一个已保存的映射。", color="warning", dismissable=True), job_id
        imports.set_mapping(runtime, job_id, found, mapping_name=saved_name)
        return _ok(f"已应用映射「{saved_name}」，正在重新校验…"), job_id
    if name == "save":
        imports.save_mapping(runtime, new_name or "", full_mapping(chosen, fields))
        return _ok(f"已保存映射「{(new_name or '').strip()}」，以后上传同样格式的文件可直接应用。"), job_id
    return None, selected


def _ok(text: str) -> dbc.Alert:
    return dbc.Alert(text, color="success", dismissable=True, className="py-2")


# -- 导入历史 ----------------------------------------------------------------------------------
@dash.callback(
    Output(ids.DATA_HISTORY, "children"), Output(ids.DATA_REMOVE_DEMO, "className"),
    Input(ids.DATA_HISTORY_SIG, "data"), Input(ids.DATA_HISTORY_CHANGED, "data"),
)  # fmt: skip
def show_history(_jobs, _changed):
    hidden = "d-none"
    try:
        rows = history_rows(get_runtime())
    except DataLayerError:
        log.exception("数据管理: import history unavailable")
        return error_alert(DB_UNAVAILABLE), hidden
    except Exception:
        return _failure("import history"), hidden
    if not rows:
        return info_alert("还没有导入记录。"), hidden
    for row in rows:
        row["size_text"] = size_text(row["size_bytes"])
        row["status_text"] = STATUS_TEXT.get(row["status"], row["status"])
        row["source_text"] = SOURCE_TEXT.get(row["source"], row["source"])
        row[UNDO_COLUMN] = UNDO_TEXT if row["status"] == "succeeded" else ""
        row[ROW_KEY] = str(row["id"])
    grid = data_grid(ids.DATA_PAGE, HISTORY_TABLE, "导入历史", rows, HISTORY_COLUMNS, hint="点击「撤销」可撤销该批次",
                     row_id=ROW_KEY)  # fmt: skip
    return grid, "" if has_demo(rows) else hidden


@dash.callback(
    Output(ids.DATA_CONFIRM, "is_open"), Output(ids.DATA_CONFIRM_BODY, "children"),
    Output(ids.DATA_CONFIRM_TARGET, "data"), Output(ids.DATA_HISTORY_MESSAGE, "children"),
    Output(ids.DATA_HISTORY_CHANGED, "data"), Output(ids.DATA_CONFIRM_OK, "children"),
    Input({"type": "grid", "page": ids.DATA_PAGE, "table": ALL}, "cellClicked"),
    Input(ids.DATA_REMOVE_DEMO, "n_clicks"), Input(ids.DATA_CONFIRM_OK, "n_clicks"),
    Input(ids.DATA_CONFIRM_CANCEL, "n_clicks"),
    State({"type": "grid", "page": ids.DATA_PAGE, "table": ALL}, "rowData"),
    State(ids.DATA_CONFIRM_TARGET, "data"), State(ids.DATA_HISTORY_CHANGED, "data"),
    prevent_initial_call=True,
)  # fmt: skip
def confirm_undo(cells, _demo, _ok_clicks, _cancel, grids, target, changed):
    """撤销 in the history or 移除演示数据 → the confirm dialog; 确认 → do it and say what changed."""
    unchanged = dash.no_update
    trigger = dash.ctx.triggered_id
    if not dash.ctx.triggered or not dash.ctx.triggered[0]["value"]:
        return (unchanged,) * 6
    if trigger == ids.DATA_CONFIRM_CANCEL:
        return False, unchanged, "", unchanged, unchanged, unchanged
    if trigger == ids.DATA_REMOVE_DEMO:
        body = "将移除全部演示数据（演示门店、商品和订单），并重算受影响的汇总。你自己导入的数据不受影响。"
        return True, body, DEMO_TARGET, unchanged, unchanged, "确认移除"
    if isinstance(trigger, dict):  # a cell of the history grid
        batch = _clicked_batch(cells, grids)
        if batch is None:
            return (unchanged,) * 6
        body = [html.P(f"撤销批次 #{batch['id']}（{batch['file_name']}，{batch['rows'] or 0:,} 行、"
                       f"{batch['orders'] or 0:,} 单）？"),
                html.P("将删除该批次写入的订单；被它替换的旧版本订单会恢复；之后的批次改过的订单保持不变。"
                       "只被该批次用到的门店和商品也会删除。", className="small text-muted mb-0")]  # fmt: skip
        return True, body, f"{UNDO_PREFIX}{batch['id']}", unchanged, unchanged, "确认撤销"
    if trigger == ids.DATA_CONFIRM_OK and target:
        return False, unchanged, "", _carry_out(target), (changed or 0) + 1, unchanged
    return (unchanged,) * 6


def _clicked_batch(cells: list, grids: list) -> dict | None:
    """The succeeded batch whose 撤销 cell was clicked; None for any other cell."""
    cell = next((c for c in cells if c), None)
    if not cell or cell.get("colId") != UNDO_COLUMN:
        return None
    rows = next((g for g in grids if g), [])
    batch = next((r for r in rows if str(r.get("id")) == str(cell.get("rowId"))), None)
    return batch if batch is not None and batch.get("status") == "succeeded" else None


def _carry_out(target: str):
    runtime = get_runtime()
    try:
        if target == DEMO_TARGET:
            result = remove_demo_data(runtime)
        elif target.startswith(UNDO_PREFIX) and target[len(UNDO_PREFIX):].isdigit():
            result = undo(runtime, int(target[len(UNDO_PREFIX):]))
        else:
            return None
    except UndoRefusedError as exc:
        return dbc.Alert(str(exc), color="warning", dismissable=True)
    except DataLayerError:
        log.exception("数据管理: %s failed", target)
        return error_alert("数据库暂时无法访问，未做任何更改。请稍后重试。")
    except Exception:
        return _failure(target)
    return dbc.Alert(result.format_text(), color="success", dismissable=True, className="data-undo-result")
