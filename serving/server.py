"""Waitress with a per-client connection cap and a graceful stop.

Waitress's own ``create_server`` builds plain ``TcpWSGIServer``s; this module builds the same
servers from subclasses (one listener per socket, one map, one thread pool) and runs the loop
itself, so that

* a client address holding ``per_client_limit`` open connections gets its further ones closed at
  once: one client with thousands of idle sockets no longer fills ``connection_limit`` for all
  (idle sockets are closed after Waitress's ``channel_timeout``; behind a reverse proxy every
  client has the proxy's address, so the cap is off there and nginx's ``limit_conn`` does it);
* a stop (``request_stop``, called from the SIGTERM handler) drains instead of cutting: the
  listeners close (no new connections), requests received before the stop are finished and
  answered with ``Connection: close``, a request that arrives afterwards on an open keep-alive
  connection is answered ``503`` with ``Connection: close``, idle connections stay open for
  DRAIN_GRACE_S so a request already on its way is answered rather than reset, and the whole
  drain is bounded by ``drain_timeout_s``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ThreadedTaskDispatcher, WSGITask

log = logging.getLogger("o2o.serve")

POLL_S = 0.25  # how long one loop turn waits: a stop request is seen within this
DRAIN_GRACE_S = 2.0  # idle keep-alive connections stay open this long after a stop
DRAIN_TIMEOUT_S = 8.0  # the supervisor kills a worker after STOP_TIMEOUT_S (10 s)
REFUSED_LOG_INTERVAL_S = 10.0
DRAINING_BODY = "服务正在重启或停止, 请稍后重试\n".encode()


class ServerState:
    """What the listeners, channels and tasks of one server share (read from several threads)."""

    def __init__(self, per_client_limit: int) -> None:
        self.per_client_limit = per_client_limit
        self.lock = threading.Lock()
        self.open_by_client: Counter[str] = Counter()
        self.refused = 0  # connections closed by the per-client cap
        self._refused_logged = 0
        self._refused_logged_at = -REFUSED_LOG_INTERVAL_S
        self.drain_started: float | None = None  # monotonic time of the stop request, once seen
        self.finished_in_drain = 0
        self.refused_in_drain = 0

    def admit(self, client: str) -> bool:
        """Count a new connection of ``client``; False when it is over the cap."""
        with self.lock:
            if self.per_client_limit and self.open_by_client[client] >= self.per_client_limit:
                self.refused += 1
                self._log_refused(client)
                return False
            self.open_by_client[client] += 1
            return True

    def release(self, client: str) -> None:
        with self.lock:
            self.open_by_client[client] -= 1
            if self.open_by_client[client] <= 0:
                del self.open_by_client[client]

    def _log_refused(self, client: str) -> None:
        now = time.monotonic()
        if now - self._refused_logged_at < REFUSED_LOG_INTERVAL_S:
            return
        log.warning("客户端 %s 已打开 %d 个连接 (每个客户端上限 O2O_MAX_CONNECTIONS_PER_CLIENT=%d), 关闭其新连接; "
                    "上条报告后共关闭 %d 个", client, self.open_by_client[client], self.per_client_limit,
                    self.refused - self._refused_logged)  # fmt: skip
        self._refused_logged, self._refused_logged_at = self.refused, now


class _StampedRequest(HTTPRequestParser):
    """A request that remembers when its first bytes arrived (before or after the stop)."""

    def __init__(self, adj) -> None:
        super().__init__(adj)
        self.arrived = time.monotonic()


class _DrainAwareTask(WSGITask):
    def execute(self) -> None:
        state: ServerState = self.channel.server.state
        started = state.drain_started
        if started is not None and self.request.arrived >= started:
            self._refuse(state)
            return
        super().execute()
        if started is not None or state.drain_started is not None:
            with state.lock:
                state.finished_in_drain += 1

    def build_response_header(self) -> bytes:
        if self.channel.server.state.drain_started is not None:
            self.set_close_on_finish()  # the client opens its next request elsewhere
        return super().build_response_header()

    def _refuse(self, state: ServerState) -> None:
        with state.lock:
            state.refused_in_drain += 1
        self.status = "503 Service Unavailable"
        self.response_headers = [("Content-Type", "text/plain; charset=utf-8"), ("Retry-After", "2")]
        self.set_close_on_finish()
        self.content_length = len(DRAINING_BODY)
        self.complete = True
        self.write(DRAINING_BODY)


class _Channel(HTTPChannel):
    task_class = _DrainAwareTask
    parser_class = _StampedRequest
    client: str | None = None  # set once the connection is counted against its client

    def del_channel(self, map=None) -> None:
        super().del_channel(map)
        client, self.client = self.client, None
        if client is not None:
            self.server.state.release(client)

    def busy(self) -> bool:
        """A request being received (an upload) or served, or a response not yet sent."""
        return bool(self.requests or self.total_outbufs_len or self.request is not None)


class _Listener(TcpWSGIServer):
    channel_class = _Channel
    state: ServerState

    def handle_accept(self) -> None:
        try:
            accepted = self.accept()
            if accepted is None:
                return
            conn, addr = accepted
            self.set_socket_options(conn)
        except OSError:  # as Waitress: a peer gone before accept() finished
            if self.adj.log_socket_errors:
                self.logger.warning("server accept() threw an exception", exc_info=True)
            return
        addr = self.fix_addr(addr)
        client = str(addr[0])
        if not self.state.admit(client):
            conn.close()
            return
        try:
            channel = self.channel_class(self, conn, addr, self.adj, map=self._map)
        except BaseException:
            self.state.release(client)
            conn.close()
            raise
        channel.client = client


class AppServer:
    """The listeners of one serving process, their connections and threads."""

    def __init__(self, application, *, per_client_limit: int = 0, drain_timeout_s: float = DRAIN_TIMEOUT_S,
                 **adjustments) -> None:  # fmt: skip
        self.adj = Adjustments(**adjustments)
        self.map: dict = {}
        self.state = ServerState(per_client_limit)
        self.drain_timeout_s = drain_timeout_s
        self.task_dispatcher = ThreadedTaskDispatcher()
        self.task_dispatcher.set_thread_count(self.adj.threads)
        self._stop = threading.Event()
        self.listeners: list[_Listener] = []
        try:
            if self.adj.sockets:
                for sock in self.adj.sockets:
                    sockinfo = (sock.family, sock.type, sock.proto, sock.getsockname())
                    self._listen(application, sock, sockinfo, bind_socket=False)
            else:
                for sockinfo in self.adj.listen:
                    self._listen(application, None, sockinfo, bind_socket=True)
        except BaseException:
            self.close()
            raise

    def _listen(self, application, sock, sockinfo, bind_socket: bool) -> None:
        listener = _Listener(application, self.map, True, sock, dispatcher=self.task_dispatcher, adj=self.adj,
                             sockinfo=sockinfo, bind_socket=bind_socket)  # fmt: skip
        listener.state = self.state
        self.listeners.append(listener)

    @property
    def effective_port(self) -> int:
        return int(self.listeners[0].effective_port)

    def request_stop(self) -> None:
        """Begin the drain (safe from a signal handler or another thread: it only sets a flag)."""
        self._stop.set()

    def run(self) -> None:
        """Serve until ``request_stop``, then drain (see the module docstring) and close."""
        try:
            while not self._stop.is_set():
                wasyncore.loop(timeout=POLL_S, map=self.map, use_poll=True, count=1)
            self._drain()
        finally:
            self.close()

    def _channels(self) -> list[_Channel]:
        return [c for c in list(self.map.values()) if isinstance(c, _Channel)]

    def _drain(self) -> None:
        started = time.monotonic()
        self.state.drain_started = started
        for listener in self.listeners:  # no new connections; the trigger stays for the threads
            if listener.socket is not None:
                wasyncore.dispatcher.close(listener)
        open_at_stop = len(self._channels())
        deadline = started + self.drain_timeout_s
        while True:
            channels = self._channels()
            now = time.monotonic()
            busy = [c for c in channels if c.busy()]
            if not channels or (not busy and now - started >= DRAIN_GRACE_S) or now >= deadline:
                break
            wasyncore.loop(timeout=0.05, map=self.map, use_poll=True, count=1)
        for channel in channels:
            channel.handle_close()
        log.info("停止: 排空 %.1f 秒; 停止时 %d 个连接, 完成 %d 个请求, 拒绝 %d 个新请求 (503), "
                 "强制关闭 %d 个未完成的连接", time.monotonic() - started, open_at_stop,
                 self.state.finished_in_drain, self.state.refused_in_drain, len(busy))  # fmt: skip

    def close(self) -> None:
        """Stop the threads and close every socket (idempotent)."""
        self.task_dispatcher.shutdown(timeout=1)
        for listener in self.listeners:
            if listener.socket is not None:
                wasyncore.dispatcher.close(listener)
        for channel in self._channels():
            channel.handle_close()
        if not self.task_dispatcher.threads:  # a thread still running may yet pull its trigger
            for listener in self.listeners:
                listener.trigger.close()
