"""HTTP routes of 数据管理 that are no Dash callback: the streamed upload, the template and a
job's validation report.

``POST /data/upload`` takes the file as the raw request body (not multipart, not base64 through
a callback): Waitress spools a large body to a temporary file, and services.imports copies it
to the uploads directory in 1 MB blocks, so the server's memory does not grow with the file.
The file name comes in ``X-File-Name`` (percent-encoded UTF-8). A request must carry
``X-Requested-With: o2o-upload`` — a custom header a page of another site cannot send without a
CORS preflight this server never grants — and, when the browser sends ``Origin``, this site's
own: a cheap guard against cross-site uploads until accounts exist. Answers are JSON:
``{"job": {...}}`` or ``{"error": "中文"}`` (400, 403, 413, 415; 503 database, 507 disk).

These routes are outside the Dash callback guard (web.callback_body checks only
``/_dash-update-component``) and receive bodies up to ``O2O_MAX_IMPORT_BYTES``
(web.limits.accepts_upload; 413 by Content-Length before anything is read).
"""

from __future__ import annotations

import io
import logging
from urllib.parse import quote, unquote, urlsplit

from flask import Blueprint, Flask, jsonify, request, send_file
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import RequestEntityTooLarge

from services import imports
from services.runtime import get_runtime
from web.limits import accepts_upload

log = logging.getLogger("o2o.uploads")

UPLOAD_PATH = "/data/upload"
TEMPLATE_PATH = "/data/template.xlsx"
REQUESTED_WITH = "o2o-upload"
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

blueprint = Blueprint("o2o_data", __name__)


def install_upload_routes(server: Flask) -> None:
    server.register_blueprint(blueprint)


def _error(message: str, status: int):
    return jsonify(error=message), status


def _attachment(response, name: str, fallback: str):
    """``Content-Disposition`` with the Chinese name for browsers and an ASCII one for others
    (Flask's own fallback drops every non-ASCII character: "filename=.xlsx")."""
    response.headers["Content-Disposition"] = f"attachment; filename={fallback}; filename*=UTF-8''{quote(name)}"
    return response


def _same_origin() -> bool:
    """No ``Origin`` (not a browser's cross-site request), or one naming this server's host name.
    The port is not compared: behind nginx (config/nginx.conf, ``Host $host``) the Host header
    has none while the browser's Origin keeps a non-default one, and TLS ends at the proxy."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    parts = urlsplit(origin)
    own = urlsplit(f"//{request.host}").hostname
    return parts.scheme in ("http", "https") and parts.hostname is not None and parts.hostname == own


@blueprint.post(UPLOAD_PATH)
@accepts_upload
def upload():
    if request.headers.get("X-Requested-With") != REQUESTED_WITH:
        return _error("上传请求缺少 X-Requested-With: o2o-upload 头 (请从数据管理页面上传)", 400)
    if not _same_origin():
        log.warning("upload refused: foreign Origin %r", request.headers.get("Origin", "")[:200])
        return _error("拒绝来自其他网站的上传请求", 403)
    raw_name = request.headers.get("X-File-Name", "")
    try:
        file_name = unquote(raw_name, errors="strict")
    except UnicodeDecodeError:
        return _error("文件名编码无效 (X-File-Name 应为百分号编码的 UTF-8)", 400)
    runtime = get_runtime()
    try:
        try:
            # the body is read only here: a Content-Length over the limit is refused unread
            job = imports.save_upload(runtime, request.stream, file_name, request.content_length)
        except RequestEntityTooLarge:  # by Content-Length, or a chunked body passing the limit
            name = imports.clean_file_name(file_name)
            raise imports.too_large(name, runtime.settings.max_import_bytes) from None
    except imports.UploadRefused as refused:
        log.warning("upload refused: %s", refused.message)
        return _error(refused.message, refused.status)
    except SQLAlchemyError:
        log.exception("upload of %s: the job could not be recorded", file_name[:200])
        return _error("数据库暂时不可用，文件未保存，请稍后重试", 503)
    except OSError:  # disk full, data directory not writable
        log.exception("upload of %s: the file could not be stored", file_name[:200])
        return _error("服务器无法保存上传的文件 (磁盘已满或数据目录不可写)，请联系管理员", 507)
    return jsonify(job=job.to_json())


@blueprint.get(TEMPLATE_PATH)
def template():
    response = send_file(io.BytesIO(imports.template_xlsx()), mimetype=XLSX_MIMETYPE, max_age=0)
    return _attachment(response, imports.TEMPLATE_FILE_NAME, "order-import-template.xlsx")


@blueprint.get("/data/jobs/<int:job_id>/report.csv")
def report_csv(job_id: int):
    runtime = get_runtime()
    job = imports.get_job(runtime, job_id)
    path = imports.report_csv_path(runtime, job_id)
    if job is None or path is None:
        return _error("没有该任务的校验报告", 404)
    stem = job.file_name.rsplit(".", 1)[0]
    response = send_file(path, mimetype="text/csv; charset=utf-8", max_age=0)
    return _attachment(response, f"{stem}_校验报告.csv", f"job-{job_id}-report.csv")
