"""What the 数据管理 page asks of imports: store an upload, follow its job, choose a mapping,
start the import, remove a job, saved mappings, the template file.

``runtime`` is services.runtime.get_runtime(). Uploads are streamed to
``data_dir/uploads/<job dir>/<file name>`` in 1 MB blocks (never held in memory) and checked by
content, not only by name. The jobs themselves run in the import worker (services.import_jobs).
Refusals raise :class:`UploadRefused` / :class:`JobRefused` with a Chinese message.
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import io
import json
import logging
import re
import shutil
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from db.export_format import BY_NAME, COLUMNS
from db.importer import jobs
from db.importer.reader import CSV_ENCODINGS, XLSX_SIGNATURE
from services.import_jobs import UPLOAD_DIR, live_progress, notify, report_path

log = logging.getLogger(__name__)

BLOCK = 1 << 20
SNIFF_BYTES = 64 * 1024
SUFFIXES = (".csv", ".xlsx")
MAX_NAME_CHARS = 200
MAX_MAPPING_NAME_CHARS = 100

STATUS_TEXT = {
    "uploaded": "等待检查",
    "checking": "检查中",
    "checked": "检查通过，待导入",
    "invalid": "检查未通过",
    "queued": "排队等待导入",
    "running": "导入中",
    "succeeded": "已导入",
    "failed": "失败",
    "cancelled": "已移除",
}


class UploadRefused(ValueError):  # noqa: N818 - the name the page uses
    """An upload that is not stored; ``message`` says why (Chinese), ``status`` the HTTP code."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class JobRefused(ValueError):  # noqa: N818 - pairs with UploadRefused
    """An action the job's state does not allow; ``message`` says why (Chinese)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class JobView:
    id: int
    file_name: str
    size_bytes: int
    sha256: str
    status: str
    status_text: str
    action: str
    step: str | None
    lines_done: int
    lines_total: int
    error_count: int
    message: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    batch_id: int | None
    mapping_name: str | None
    active: bool
    batch_undone: bool = False  # the batch this job imported was undone later

    @classmethod
    def from_row(cls, row: dict) -> JobView:
        status = row["status"]
        text = STATUS_TEXT.get(status, status)
        if status == "failed" and row["action"] == "check":
            text = "检查失败"
        if status == "succeeded" and row.get("batch_status") == "undone":
            text = "已导入，批次已撤销"
        return cls(
            id=row["id"], file_name=row["file_name"], size_bytes=row["size_bytes"], sha256=row["sha256"],
            status=status, status_text=text, action=row["action"], step=row["step"],
            lines_done=row["lines_done"] or 0, lines_total=row["lines_total"] or 0,
            error_count=row["error_count"] or 0, message=row["message"], created_at=row["created_at"],
            started_at=row["started_at"], finished_at=row["finished_at"], batch_id=row["batch_id"],
            mapping_name=row["mapping_name"], active=status in jobs.ACTIVE,
            batch_undone=row.get("batch_status") == "undone",
        )  # fmt: skip

    def to_json(self) -> dict:
        """Plain JSON values (datetimes as ISO text)."""
        out = {}
        for key, value in self.__dict__.items():
            out[key] = value.isoformat(sep=" ", timespec="seconds") if isinstance(value, dt.datetime) else value
        return out


# -- uploads ----------------------------------------------------------------------------------
def clean_file_name(file_name: str | None) -> str:
    """The name to store and show: no directories, no control characters; refused unless it
    ends in .csv / .xlsx."""
    name = (file_name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name)
    name = re.sub(r'[:*?"<>|]', "_", name).strip().strip(".")  # not allowed in Windows file names
    if not name:
        raise UploadRefused("缺少文件名")
    if not name.lower().endswith(SUFFIXES):
        raise UploadRefused(f"{name[:MAX_NAME_CHARS]}: 只接受 .csv 或 .xlsx 文件", 415)
    if len(name) > MAX_NAME_CHARS:
        stem, _, suffix = name.rpartition(".")
        name = f"{stem[: MAX_NAME_CHARS - len(suffix) - 1]}.{suffix}"
    return name


def too_large(name: str, limit: int) -> UploadRefused:
    return UploadRefused(f"{name}: 文件超过上传上限 {limit / (1 << 20):.0f} MB", 413)


def _looks_like_csv(head: bytes, whole: bool) -> bool:
    """Text in UTF-8 (with or without BOM) or GB18030, no NUL bytes. ``whole``: ``head`` is the
    entire file (else a character cut at its end is no error)."""
    if b"\x00" in head:
        return False
    for encoding in CSV_ENCODINGS:
        try:
            codecs.getincrementaldecoder(encoding)().decode(head, final=whole)
            return True
        except UnicodeDecodeError:
            continue
    return False


def _sniff(name: str, head: bytes, whole: bool) -> None:
    """Refuse content that does not match the name's type (by the first SNIFF_BYTES)."""
    if name.lower().endswith(".xlsx"):
        if not head.startswith(XLSX_SIGNATURE):
            raise UploadRefused(f"{name}: 内容不是 XLSX 文件 (不是 Excel 2007+ 工作簿)", 415)
    elif head.startswith(XLSX_SIGNATURE) or not _looks_like_csv(head, whole):
        raise UploadRefused(f"{name}: 内容不是 CSV 文本 (应为 UTF-8 或 GB18030 编码的文本文件)", 415)


def _check_workbook(name: str, path: Path) -> None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError):
        raise UploadRefused(f"{name}: 内容不是有效的 XLSX 文件 (压缩包已损坏)", 415) from None
    if "xl/workbook.xml" not in names:
        raise UploadRefused(f"{name}: 内容不是 XLSX 工作簿 (缺少 xl/workbook.xml)", 415)


def uploads_dir(runtime) -> Path:
    return Path(runtime.settings.data_dir) / UPLOAD_DIR


def save_upload(runtime, stream: BinaryIO, file_name: str, content_length: int | None, *,
                created_by: str | None = None) -> JobView:  # fmt: skip
    """Stream an upload to disk (1 MB blocks, SHA-256 on the way), check its content and enqueue
    its check job. Raises UploadRefused; nothing is kept of a refused upload."""
    settings = runtime.settings
    limit = settings.max_import_bytes
    name = clean_file_name(file_name)
    if content_length is not None and content_length > limit:
        raise too_large(name, limit)
    if content_length == 0:
        raise UploadRefused(f"{name}: 文件为空")
    job_dir = uploads_dir(runtime) / f"{dt.datetime.now():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:12]}"
    job_dir.mkdir(parents=True, exist_ok=False)
    target = job_dir / name
    digest = hashlib.sha256()
    size = 0
    head = b""
    try:
        with target.open("wb") as out:
            while True:
                block = stream.read(BLOCK)
                if not block:
                    break
                size += len(block)
                if size > limit:
                    raise too_large(name, limit)
                if len(head) < SNIFF_BYTES:
                    head += block[: SNIFF_BYTES - len(head)]
                    if len(head) >= SNIFF_BYTES:
                        _sniff(name, head, whole=False)
                digest.update(block)
                out.write(block)
        if size == 0:
            raise UploadRefused(f"{name}: 文件为空")
        if content_length is not None and size != content_length:
            raise UploadRefused(f"{name}: 上传不完整 (收到 {size} / {content_length} 字节)")
        if len(head) < SNIFF_BYTES:
            _sniff(name, head, whole=True)
        if name.lower().endswith(".xlsx"):
            _check_workbook(name, target)
        job_id = jobs.create_job(runtime.engine, file_name=name, stored_path=str(target), size_bytes=size,
                                 sha256=digest.hexdigest(), created_by=created_by)  # fmt: skip
    except BaseException:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise
    log.info("upload %s stored as job %s (%d bytes)", name, job_id, size)
    notify(settings.database_url)
    return get_job(runtime, job_id)


# -- jobs -------------------------------------------------------------------------------------
def list_jobs(runtime, *, include_finished: bool = False) -> list[JobView]:
    """Jobs newest first: those still to be acted on (waiting, working, checked, invalid), and
    with ``include_finished`` also the succeeded, failed and removed ones."""
    statuses = None if include_finished else [s for s in jobs.STATUSES if s not in jobs.FINISHED]
    return [JobView.from_row(live_progress(row)) for row in jobs.list_jobs(runtime.engine, statuses)]


def get_job(runtime, job_id: int) -> JobView | None:
    row = jobs.get_job(runtime.engine, job_id)
    return JobView.from_row(live_progress(row)) if row is not None else None


def job_preview(runtime, job_id: int) -> dict | None:
    """{"headers", "mapping" (Mapping.to_dict()), "report" (ValidationReport.to_dict()),
    "message"} of the job's last check; None before it was checked. A file that could not be
    read at all has ``message`` set, no headers and ``mapping`` None."""
    row = jobs.get_job(runtime.engine, job_id, with_preview=True)
    if row is None or not row["preview"]:
        return None
    return json.loads(row["preview"])


def _job_or_refuse(runtime, job_id: int) -> dict:
    row = jobs.get_job(runtime.engine, job_id)
    if row is None:
        raise JobRefused(f"任务 #{job_id} 不存在")
    return row


def _state_refusal(row: dict, wanted: str) -> JobRefused:
    state = STATUS_TEXT.get(row["status"], row["status"])
    return JobRefused(f"{row['file_name']}: 当前状态为「{state}」，不能{wanted}")


def set_mapping(runtime, job_id: int, mapping: dict[str, str], mapping_name: str | None = None) -> JobView:
    """Check the job's file again with the user's {field: file column} mapping."""
    row = _job_or_refuse(runtime, job_id)
    chosen = {}
    for field, column in (mapping or {}).items():
        if field not in BY_NAME:
            raise JobRefused(f"未知字段: {field}")
        if column is not None:  # "" = 不导入: the field stays unmapped even where an alias matches
            chosen[field] = str(column).strip()
    if not jobs.requeue_check(runtime.engine, job_id, chosen or None, mapping_name):
        raise _state_refusal(row, "修改字段映射")
    notify(runtime.settings.database_url)
    return get_job(runtime, job_id)


def start_import(runtime, job_id: int) -> JobView:
    """Queue the import of a job whose check passed without errors (or whose import was cut
    off by a stopped process: 导入中断)."""
    row = _job_or_refuse(runtime, job_id)
    if row["status"] in ("checked", "failed") and row["error_count"]:
        raise JobRefused(f"{row['file_name']}: 校验发现 {row['error_count']} 个错误，不能导入")
    if not jobs.enqueue_import(runtime.engine, job_id):
        raise _state_refusal(_job_or_refuse(runtime, job_id), "开始导入")
    notify(runtime.settings.database_url)
    return get_job(runtime, job_id)


def remove_job(runtime, job_id: int) -> None:
    """Remove a job that is not being worked on: its stored file and report are deleted; a job
    not imported is marked removed (an imported one keeps its row for the record)."""
    row = _job_or_refuse(runtime, job_id)
    if row["status"] in jobs.WORKING:
        raise _state_refusal(row, "移除 (请等待完成)")
    if row["status"] != "succeeded" and not jobs.cancel(runtime.engine, job_id):
        fresh = _job_or_refuse(runtime, job_id)
        if fresh["status"] != "cancelled":
            raise _state_refusal(fresh, "移除 (请等待完成)")
    _delete_stored(runtime, row["stored_path"])


def _delete_stored(runtime, stored_path: str) -> None:
    """Delete the job's directory, only ever one below the uploads directory."""
    folder = Path(stored_path).parent
    root = uploads_dir(runtime).resolve()
    try:
        resolved = folder.resolve()
    except OSError:
        return
    if resolved.parent == root:
        shutil.rmtree(resolved, ignore_errors=True)
    else:
        log.warning("not deleting %s: outside %s", folder, root)


def report_csv_path(runtime, job_id: int) -> Path | None:
    """The full validation report of the job's last check (CSV, UTF-8 with BOM), if written."""
    row = jobs.get_job(runtime.engine, job_id)
    if row is None:
        return None
    path = report_path(row["stored_path"])
    return path if path.is_file() else None


# -- saved mappings ---------------------------------------------------------------------------
def saved_mappings(runtime) -> list[tuple[str, dict]]:
    return jobs.saved_mappings(runtime.engine)


def save_mapping(runtime, name: str, mapping: dict[str, str]) -> None:
    """Store ``mapping`` ({field: file column}) under ``name``; the same name is overwritten."""
    name = (name or "").strip()
    if not name:
        raise JobRefused("请填写映射名称")
    if len(name) > MAX_MAPPING_NAME_CHARS:
        raise JobRefused(f"映射名称最长 {MAX_MAPPING_NAME_CHARS} 个字")
    unknown = [f for f in mapping if f not in BY_NAME]
    if unknown:
        raise JobRefused(f"未知字段: {', '.join(unknown)}")
    jobs.save_mapping(runtime.engine, name, {f: str(c).strip() for f, c in mapping.items() if c is not None})


# -- the template -----------------------------------------------------------------------------
TEMPLATE_FILE_NAME = "订单导入模板.xlsx"
TEMPLATE_SHEET = "订单明细"
# One order of two lines that imports as it is (money per order repeated on both lines).
_EXAMPLE_ORDER = {
    "platform_order_id": "MT202601050001", "order_no": "202601050001", "ordered_at": "2026-01-05 12:30:00",
    "store_name": "示例门店-武汉光谷店", "store_code": "DEMO-001", "franchise_type": "直营", "city": "武汉",
    "expected_income": 23.6, "delivery_fee": 4.5, "commission": 2.4, "service_fee": 1.2,
    "user_delivery_fee": 3.0, "delivery_fee_discount": 0.0, "full_reduction": 2.0, "merchant_voucher": 0.0,
    "merchant_coupon_share": 0.0, "packaging_fee": 0.5, "gift_amount": 0.0, "other_discount": 0.0,
    "new_customer_discount": 0.0, "corporate_rebate": 0.0, "delivery_platform": "美团配送",
    "distance_km": 1.8, "address": "武汉市洪山区光谷大道1号", "channel": "美团闪购",
}  # fmt: skip
_EXAMPLE_LINES = (
    {"product_name": "红富士苹果 500g", "barcode": "6901234567892", "product_code": "P001",
     "category_l1": "水果", "category_l3": "苹果", "list_price": 12.0, "sale_price": 10.0,
     "received_price": 9.5, "cost": 6.0, "quantity": 2, "stock": 100, "remaining_stock": 98,
     "profit": 13.0, "item_discount": 1.0},
    {"product_name": "纯牛奶 250ml", "barcode": "6907992500133", "product_code": "P002",
     "category_l1": "乳品", "category_l3": "常温奶", "list_price": 4.5, "sale_price": 4.0,
     "received_price": 4.0, "cost": 2.8, "quantity": 1, "stock": 50, "remaining_stock": 49,
     "profit": 1.2, "item_discount": 0.0},
)  # fmt: skip


def template_xlsx() -> bytes:
    """The import template: every header of db.export_format (required ones red, bold, with a
    comment), one example order of two lines, and a sheet explaining each column."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Font, PatternFill

    book = Workbook()
    sheet = book.active
    sheet.title = TEMPLATE_SHEET
    required_font = Font(bold=True, color="C00000")
    required_fill = PatternFill("solid", fgColor="FCE4D6")
    for index, col in enumerate(COLUMNS, start=1):
        cell = sheet.cell(row=1, column=index, value=col.header)
        if col.required:
            cell.font, cell.fill = required_font, required_fill
            cell.comment = Comment("必填列", "门店诊断看板")
        sheet.column_dimensions[cell.column_letter].width = max(10, 2 * len(col.header) + 2)
        for offset, line in enumerate(_EXAMPLE_LINES, start=2):
            value = {**_EXAMPLE_ORDER, **line}.get(col.name)
            sheet.cell(row=offset, column=index, value=value)
    sheet.freeze_panes = "A2"

    notes = book.create_sheet("说明")
    notes.append(["列名", "必填", "层级", "类型", "缺省值"])
    for cell in notes[1]:
        cell.font = Font(bold=True)
    level = {"order": "整单 (同一订单各行相同)", "item": "商品行"}
    kind = {"text": "文本", "datetime": "日期时间", "money": "金额 (元)", "quantity": "数量", "distance": "距离 (公里)"}
    for col in COLUMNS:
        notes.append([col.header, "是" if col.required else "", level[col.level], kind[col.kind],
                      "" if col.default is None else col.default])  # fmt: skip
    notes.append([])
    notes.append(["每行一个商品；同一订单的整单金额在各行重复填写 (或各行填分摊额，导入时按订单求和)。"])
    notes.append(["红色列为必填；其余列可留空或删除，缺省值见上表。示例订单导入前请删除。"])
    for letter, width in zip("ABCDE", (18, 6, 24, 14, 8), strict=True):
        notes.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
