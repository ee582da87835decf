"""The access log: one stdout line per request (``127.0.0.1 "GET /healthz" 200 2.3ms``)."""

from __future__ import annotations

import logging
import sys
import time


class AccessLog:
    """WSGI middleware: one stdout line per request, ``127.0.0.1 "GET /path" 200 12.3ms``
    (time until the response body is finished or, for files, handed to the server)."""

    def __init__(self, app, level: str = "INFO") -> None:
        self.app = app
        self.log = logging.getLogger("o2o.access")
        if not self.log.handlers:
            handler = logging.StreamHandler(sys.stdout)
            handler.setFormatter(logging.Formatter("%(message)s"))
            self.log.addHandler(handler)
        self.log.setLevel(level)
        self.log.propagate = False

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        status = ["-"]

        def recording_start_response(status_line, headers, exc_info=None):
            status[0] = status_line.split(" ", 1)[0]
            return start_response(status_line, headers, exc_info)

        try:
            body = self.app(environ, recording_start_response)
        except BaseException:
            self._write(environ, "500", started)
            raise
        file_wrapper = environ.get("wsgi.file_wrapper")
        if isinstance(file_wrapper, type) and isinstance(body, file_wrapper):
            self._write(environ, status[0], started)  # keep Waitress's fast path for files
            return body
        return _LoggedBody(body, lambda: self._write(environ, status[0], started))

    def _write(self, environ, status: str, started: float) -> None:
        path = environ.get("PATH_INFO", "")
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        elapsed = (time.perf_counter() - started) * 1000
        self.log.info('%s "%s %s" %s %.1fms', environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD"),
                      path, status, elapsed)  # fmt: skip


class _LoggedBody:
    def __init__(self, body, on_close) -> None:
        self.body, self.on_close = body, on_close

    def __iter__(self):
        return iter(self.body)

    def close(self) -> None:
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.on_close()
