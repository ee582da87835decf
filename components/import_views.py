"""What 数据管理 shows of an uploaded file: its place in the job list (status, progress), the
column mapping preview (文件列 → 字段, how each was found, editable) and the validation report
(grouped by column and reason, the first examples with file row numbers).

Plain data in, components out: the page asks the services and hands the results here. Every
text from the file (names, headers, cell values) is shown as text, never as Markdown or HTML.
"""

from __future__ import annotations

import datetime as dt

import dash_bootstrap_components as dbc
from dash import html

from components import ids

# how each field found its column (db.importer.layout.Mapping.to_dict "how") → label, colour
HOW = {
    "exact": ("表头一致", "success"),
    "alias": ("别名", "success"),
    "manual": ("手动", "primary"),
    "default": ("默认值", "info"),
    "missing": ("缺少（留空）", "secondary"),
    "missing_required": ("缺少必需字段", "danger"),
    "ambiguous": ("多列都匹配", "danger"),
    "unknown_column": ("所选列不存在", "danger"),
}
PROBLEMS = ("missing_required", "ambiguous", "unknown_column")
NOT_IMPORTED = ""  # the select's value for 不导入 (layout.recognise: "" leaves a field unmapped)
RECENT_HOURS = 24  # a finished job stays in the list this long
STALL_AFTER_S = 60  # a file waiting this long with no job at work: no worker serves the database
WORKING = ("checking", "running")
WAITING = ("uploaded", "queued")
# what 删除 means per status (services.imports.remove_job); none while the worker holds the job,
# none once imported (the batch is in 导入历史, where 撤销 takes it back)
REMOVE_LABEL = {"uploaded": "删除", "checked": "删除", "invalid": "删除", "queued": "取消导入", "failed": "移出列表"}
STATUS_COLOUR = {"uploaded": "secondary", "checking": "info", "checked": "success", "invalid": "danger",
                 "queued": "secondary", "running": "primary", "succeeded": "success", "failed": "danger",
                 "cancelled": "secondary"}  # fmt: skip


def in_list(job, now: dt.datetime) -> bool:
    """Jobs still to be acted on, and finished ones for RECENT_HOURS (导入历史 keeps them after)."""
    if job.status == "cancelled":
        return False
    if job.status in ("succeeded", "failed"):
        return job.finished_at is None or now - job.finished_at <= dt.timedelta(hours=RECENT_HOURS)
    return True


def stalled(jobs: list, now: dt.datetime) -> bool:
    """A file waits for its check for over STALL_AFTER_S while no job is being worked on: no
    import worker serves this database (every process started with O2O_IMPORT_WORKER=0)."""
    if any(job.status in WORKING for job in jobs):
        return False
    return any(job.status == "uploaded" and job.created_at is not None
               and (now - job.created_at).total_seconds() > STALL_AFTER_S for job in jobs)  # fmt: skip


STALLED = ("有文件等待检查已超过 1 分钟，但没有后台进程在处理。请确认服务进程启用了后台导入"
           "（O2O_IMPORT_WORKER=1）后重启服务；文件已保存，重启后会自动继续。")  # fmt: skip


def size_text(size: int | None) -> str:
    """1536 → '1.5 KB' (the browser's o2oBytes in assets/data_upload.js says the same)."""
    if size is None:
        return "—"
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KB", "MB", "GB"):
        value /= 1024
        if value < 1024 or unit == "GB":
            return f"{value:.1f} {unit}" if value < 10 else f"{value:.0f} {unit}"
    return f"{size} B"  # pragma: no cover - the loop always returns


def when(value: dt.datetime | str | None) -> str:
    if value is None:
        return "—"
    text = value.isoformat() if isinstance(value, dt.datetime) else str(value)
    return text[:16].replace("T", " ")


def action(job_id: int, name: str, where: str = "list") -> dict:
    """The id of one job button (查看 / 导入 / 删除 in the list; 重新校验 … in the detail)."""
    return {"type": ids.DATA_ACTION, "action": name, "job": job_id, "where": where}


def progress(job) -> html.Div | None:
    """Step and lines while the worker is at it; None when the job waits or is done."""
    if job.status in WAITING:
        return html.Div("排队中，等待前面的文件处理完…" if job.status == "queued" else "等待校验…",
                        className="small text-muted")  # fmt: skip
    if job.status not in WORKING:
        return None
    done, total = job.lines_done or 0, job.lines_total or 0
    value = min(100, round(done * 100 / total)) if total else 0
    lines = f"{done:,} / {total:,} 行" if total else "正在读取文件…"
    label = f"{'校验' if job.status == 'checking' else '导入'}：{job.step or '准备'} · {lines}"
    bar = dbc.Progress(value=value, label=f"{value}%", striped=True, animated=True,
                       className="data-job-progress mb-1", style={"height": "1rem"})  # fmt: skip
    return html.Div([bar, html.Div(label, className="small text-muted data-job-step")])


def _buttons(job) -> list:
    buttons = [dbc.Button("查看", id=action(job.id, "view"), size="sm", color="secondary", outline=True,
                          className="me-1")]  # fmt: skip
    if job.status == "checked":
        buttons.append(dbc.Button("导入", id=action(job.id, "import"), size="sm", color="primary", className="me-1"))
    elif job.status == "failed" and job.action == "import" and not job.error_count:  # cut off: 导入中断
        buttons.append(dbc.Button("重新导入", id=action(job.id, "import"), size="sm", color="primary",
                                  className="me-1"))  # fmt: skip
    elif job.status == "failed" and job.action == "check":
        buttons.append(dbc.Button("重新检查", id=action(job.id, "recheck"), size="sm", color="secondary",
                                  className="me-1"))  # fmt: skip
    label = REMOVE_LABEL.get(job.status)
    if label:
        buttons.append(dbc.Button(label, id=action(job.id, "remove"), size="sm", color="danger", outline=True))
    return buttons


def job_row(job, selected: bool) -> html.Tr:
    colour = "secondary" if job.batch_undone else STATUS_COLOUR.get(job.status, "secondary")
    status = [dbc.Badge(job.status_text, color=colour, className="me-1")]
    if job.message and job.status not in WORKING:
        status.append(html.Div(job.message, className="small text-muted text-break"))
    if job.batch_id and not job.batch_undone:
        status.append(html.Div(f"批次 #{job.batch_id}（撤销见下方导入历史）", className="small text-muted"))
    errors = f"{job.error_count:,}" if job.error_count else "—"
    return html.Tr(
        [
            html.Td([html.Div(job.file_name, className="fw-semibold text-break"),
                     html.Div(f"上传于 {when(job.created_at)}", className="small text-muted")]),
            html.Td(size_text(job.size_bytes), className="text-nowrap"),
            html.Td([*status, progress(job)], style={"minWidth": "260px"}),
            html.Td(errors, className="text-end"),
            html.Td(_buttons(job), className="text-nowrap"),
        ],
        className="table-active" if selected else None,
        **{"data-job": str(job.id), "data-status": job.status},
    )  # fmt: skip


def job_table(jobs: list, selected: int | None) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th("文件"), html.Th("大小"), html.Th("状态 / 进度"), html.Th("错误数"),
                               html.Th("操作")]))  # fmt: skip
    return dbc.Table([head, html.Tbody([job_row(job, job.id == selected) for job in jobs])], size="sm",
                     hover=True, responsive=True, className="align-middle mb-0")  # fmt: skip


# -- the mapping preview ------------------------------------------------------------------------
def _how(entry: dict) -> list:
    label, colour = HOW.get(entry["how"], (entry["how"], "secondary"))
    out: list = [dbc.Badge(label, color=colour, className="me-1")]
    if entry["how"] == "default":
        out.append(html.Span(f"使用 {entry['default']}", className="small text-muted"))
    elif entry["how"] == "ambiguous":
        out.append(html.Span("候选：" + " / ".join(entry["candidates"]) + "，请选择一列", className="small"))
    elif entry["how"] == "missing_required":
        out.append(html.Span("请选择文件中对应的列", className="small"))
    return out


def mapping_table(mapping: dict, headers: list[str], editable: bool) -> html.Div:
    """One row per field: the file column that feeds it (a select of the file's headers, or
    不导入), how it was found, and how order-level money given per line is read."""
    options = [{"label": "（不导入）", "value": NOT_IMPORTED}] + [{"label": h, "value": h} for h in headers]
    unknown = mapping.get("unknown_columns") or {}
    rows = []
    for entry in mapping["fields"]:
        source = entry["source"] or NOT_IMPORTED
        select = dbc.Select(id={"type": ids.DATA_MAP_FIELD, "field": entry["field"]}, options=options, value=source,
                            size="sm", disabled=not editable)  # fmt: skip
        how = _how(entry)
        if entry["field"] in unknown:
            how.append(html.Span(f"文件中没有列「{unknown[entry['field']]}」", className="small"))
        name = [html.Span(entry["header"])]
        if entry["required"]:
            name.append(html.Span(" 必需", className="small text-danger"))
        rows.append(html.Tr([html.Td(select, style={"minWidth": "180px"}), html.Td("→", className="text-muted"),
                             html.Td(name), html.Td(how), html.Td(entry["rule"] or "", className="small")],
                            **{"data-field": entry["field"], "data-how": entry["how"]}))  # fmt: skip
    head = html.Thead(html.Tr([html.Th("文件列"), html.Th(""), html.Th("字段"), html.Th("识别"),
                               html.Th("整单金额规则")]))  # fmt: skip
    table = dbc.Table([head, html.Tbody(rows)], size="sm", responsive=True, className="align-middle small mb-2")
    extra = []
    if mapping.get("ignored"):
        extra.append(html.Div("未导入的列：" + "、".join(mapping["ignored"]), className="small text-muted mb-2"))
    problems = [e for e in mapping["fields"] if e["how"] in PROBLEMS]
    found = sum(1 for e in mapping["fields"] if e["source"])
    summary = f"字段映射（文件列 → 字段）：已识别 {found} 个字段"
    if problems:
        summary += f"，{len(problems)} 个需要处理"
    # all found: folded (a glance at the summary is enough); a problem: open at the fields
    return html.Details([html.Summary(summary, className="fw-semibold mb-2"), table, *extra],
                        open=bool(problems) or bool(unknown), className="data-mapping mb-2")  # fmt: skip


def mapping_from_selects(chosen: dict[str, str], fields: list[dict]) -> dict[str, str]:
    """The {field: file column} to check the file with, from what the selects show: a field whose
    select differs from the preview's column, and every field the user chose before, become
    overrides ("" = 不导入); the rest stays with the aliases."""
    overrides = {}
    for entry in fields:
        name = entry["field"]
        if name not in chosen:
            continue
        value = chosen[name] or NOT_IMPORTED
        if entry["how"] == "manual" or value != (entry["source"] or NOT_IMPORTED):
            overrides[name] = value
    return overrides


def full_mapping(chosen: dict[str, str], fields: list[dict]) -> dict[str, str]:
    """The mapping to save under a name: every field with a column as the selects show it, and
    不导入 where the user cleared a column the aliases had found."""
    found = {entry["field"]: entry["source"] for entry in fields}
    return {name: value or NOT_IMPORTED for name, value in chosen.items() if value or found.get(name)}


# -- the validation report ----------------------------------------------------------------------
def _examples(group: dict) -> dbc.Table:
    rows = [html.Tr([html.Td(f"第 {ex['row']} 行" if ex["row"] else "—", className="text-nowrap"),
                     html.Td(str(ex.get("value", "")), className="text-break"),
                     html.Td(ex.get("detail") or "", className="text-break")])
            for ex in group["examples"]]  # fmt: skip
    head = html.Thead(html.Tr([html.Th("行号"), html.Th("值"), html.Th("说明")]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", className="small mb-1")


def report_view(report: dict, report_href: str | None) -> html.Div:
    """Errors grouped by column and reason (count, first examples with row numbers) and the
    warnings; a link to the full list as CSV."""
    if not report["error_count"]:
        ok = dbc.Alert(f"校验通过：共 {report['rows']:,} 行，没有发现错误。", color="success", className="mb-2")
        return html.Div([ok, *_warnings(report)], className="data-report", **{"data-errors": "0"})
    head = dbc.Alert(f"发现 {report['error_count']:,} 个错误，文件未导入（共 {report['rows']:,} 行）。"
                     "请修改文件后重新上传，或调整上面的列映射后重新校验。",
                     color="danger", className="mb-2")  # fmt: skip
    groups = []
    for group in report["groups"]:
        more = group["count"] - len(group["examples"])
        groups.append(html.Div([
            html.Div([html.Span(f"列「{group['column']}」", className="fw-semibold me-2 data-report-column"),
                      html.Span(group["reason"], className="me-2 data-report-reason"),
                      dbc.Badge(f"{group['count']:,} 处", color="danger")], className="mb-1"),
            _examples(group),
            html.Div(f"另有 {more:,} 处未列出，见完整错误列表。", className="small text-muted") if more > 0 else None,
        ], className="data-report-group border rounded p-2 mb-2 bg-white"))  # fmt: skip
    link = [html.A("下载完整错误列表 (CSV)", href=report_href, className="btn btn-outline-secondary btn-sm mb-2",
                   download="")] if report_href else []  # fmt: skip
    return html.Div([head, *link, *groups, *_warnings(report)], className="data-report",
                    **{"data-errors": str(report["error_count"])})  # fmt: skip


def _warnings(report: dict) -> list:
    warnings = report.get("warnings") or []
    if not warnings:
        return []
    return [dbc.Alert([html.Div("提示：", className="fw-semibold"), html.Ul([html.Li(w) for w in warnings])],
                      color="warning", className="small mb-2")]  # fmt: skip
