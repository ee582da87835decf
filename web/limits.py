"""How large a request body may be, and the short answer when a request is refused.

Every route gets ``O2O_MAX_CALLBACK_BYTES`` (Flask's ``MAX_CONTENT_LENGTH``): the only bodies
the dashboard receives are Dash callback requests of a few KB. A route that receives an import
file declares its own limit with :func:`accepts_upload` (``O2O_MAX_IMPORT_BYTES``). A body over
the limit is refused with 413 before it is read: by its Content-Length, or — sent in chunks —
once the bytes read pass the limit (Werkzeug's LimitedStream). Waitress itself receives at most
``Settings.max_request_bytes`` (serving/worker.py), above the largest route limit.

A refused request (400, 413, 415) gets a short JSON answer and one WARNING line, no traceback.
"""

from __future__ import annotations

import functools
import logging

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from config import Settings

log = logging.getLogger("o2o.requests")
IMPORT_LIMIT_KEY = "O2O_MAX_IMPORT_BYTES"
REFUSED = {400: "请求格式无效", 413: "请求体过大", 415: "请求须为 JSON"}
REASON_CHARS = 200


def install_limits(server: Flask, settings: Settings) -> None:
    server.config["MAX_CONTENT_LENGTH"] = settings.max_callback_bytes
    server.config[IMPORT_LIMIT_KEY] = settings.max_import_bytes
    for code in REFUSED:
        server.register_error_handler(code, refused)


def accepts_upload(view):
    """Route decorator: the request body may be as large as ``O2O_MAX_IMPORT_BYTES`` (set before
    the view reads the body; ``request.files`` / ``request.stream`` then apply it)."""

    @functools.wraps(view)
    def with_upload_limit(*args, **kwargs):
        request.max_content_length = current_app.config[IMPORT_LIMIT_KEY]
        return view(*args, **kwargs)

    return with_upload_limit


def refused(error: HTTPException):
    """The answer to a refused request: {"error": 中文, "reason": why}; one WARNING line."""
    reason = (error.description or "").replace("\n", " ")[:REASON_CHARS]
    if error.code == 413:
        limit = request.max_content_length
        reason = f"body over {limit} bytes" if limit else reason
    path = request.path[:REASON_CHARS].encode("unicode_escape").decode("ascii")  # one line, whatever was sent
    log.warning("拒绝请求 %s %s → %s: %s (%s)", request.method, path, error.code, reason, request.remote_addr or "-")
    return jsonify(error=REFUSED.get(error.code or 400, "请求被拒绝"), reason=reason), error.code
