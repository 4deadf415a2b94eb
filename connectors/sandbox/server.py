"""HTTP(S) transport for one emulator: faults, statistics and control endpoints.

One :class:`EmulatorServer` = one ``ThreadingHTTPServer`` bound to 127.0.0.1
(never a public interface) in front of one emulator.  For each request it

1. answers the control endpoints itself (not counted, never faulted):
   ``GET|POST /__sandbox/faults`` (read / replace the :class:`FaultConfig`),
   ``GET /__sandbox/stats`` and ``DELETE /__sandbox/stats`` (reset counts);
2. counts the request under ``emulator.endpoint_key(req)``;
3. asks the :class:`FaultPlan` for a decision and sleeps any added latency;
4. either fakes the fault (reset, vendor error via ``fault_response``, slow,
   malformed body) or calls ``emulator.handle``.

An exception inside an emulator is logged with its traceback and answered
with the vendor's own ``server_error`` response, so clients still see a
realistic body while the log shows the bug.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import struct
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from connectors.sandbox.faults import FaultConfig, FaultPlan
from connectors.sandbox.http import Emulator, Request, Response

log = logging.getLogger(__name__)
CONTROL_PREFIX = "/__sandbox/"
HOST = "127.0.0.1"


class Stats:
    """Thread-safe request counts per endpoint and injected faults per kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._endpoints: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()

    def count(self, endpoint: str, fault: str | None) -> None:
        with self._lock:
            self._endpoints[endpoint] += 1
            if fault:
                self._faults[fault] += 1

    def snapshot(self) -> dict[str, Any]:
        """``{"total": n, "endpoints": {key: n}, "faults": {kind: n}}``."""
        with self._lock:
            return {
                "total": sum(self._endpoints.values()),
                "endpoints": dict(self._endpoints),
                "faults": dict(self._faults),
            }


class _HTTPServer(ThreadingHTTPServer):
    """Threaded server that performs the TLS handshake in the worker thread."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, handler, owner: EmulatorServer, context: ssl.SSLContext | None):
        self.owner = owner
        self.ssl_context = context
        super().__init__(address, handler)

    def finish_request(self, request, client_address) -> None:
        # Headers and body are separate writes; without NODELAY, Nagle plus the
        # client's delayed ACK adds ~40 ms to every response.
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.ssl_context is None:
            return super().finish_request(request, client_address)
        request.settimeout(10)
        try:
            tls_sock = self.ssl_context.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            log.debug("TLS handshake from %s failed: %s", client_address, exc)
            return None
        try:
            tls_sock.settimeout(None)
            super().finish_request(tls_sock, client_address)
        finally:
            _close_quietly(tls_sock)

    def handle_error(self, request, client_address) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)


def _close_quietly(sock: socket.socket) -> None:
    try:
        sock.close()
    except OSError:
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60
    server: _HTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = do_GET

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib name
        log.debug("%s %s", self.address_string(), format % args)

    def _dispatch(self) -> None:
        req = self._read_request()
        if req is None:
            return
        owner = self.server.owner
        if req.path.startswith(CONTROL_PREFIX):
            self._send(owner.control(req))
        else:
            owner.serve(req, self)

    def _read_request(self) -> Request | None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            self._send(Response(411, {"error": "send a Content-Length, not a chunked body"}))
            return None
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        headers: dict[str, str] = {}
        for key, value in self.headers.items():
            key = key.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        query = parse_qs(parts.query, keep_blank_values=True)
        return Request(self.command, parts.path or "/", query, headers, body)

    def _send(self, response: Response, body_override: bytes | None = None) -> None:
        body, headers = response.encoded()
        if body_override is not None:
            body = body_override
        self.send_response(response.status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "connection"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_or_ignore(self, response: Response, body_override: bytes | None = None) -> None:
        """Send, tolerating a client that already gave up (slow responses)."""
        try:
            self._send(response, body_override)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def reset_connection(self) -> None:
        """Abort the TCP connection with an RST and no response at all."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        _close_quietly(self.connection)


class EmulatorServer:
    """One emulator served on ``127.0.0.1:port`` (HTTPS when ``emulator.tls``)."""

    def __init__(self, emulator: Emulator, faults: FaultConfig | None = None,
                 context: ssl.SSLContext | None = None, port: int = 0) -> None:
        if emulator.tls and context is None:
            raise ValueError(f"emulator {emulator.name} needs TLS: pass the sandbox SSL context")
        self.emulator = emulator
        self.plan = FaultPlan(faults)
        self.stats = Stats()
        self._httpd = _HTTPServer((HOST, port), _Handler, self, context if emulator.tls else None)
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    @property
    def base_url(self) -> str:
        scheme = "https" if self.emulator.tls else "http"
        return f"{scheme}://{HOST}:{self.port}"

    def start(self) -> EmulatorServer:
        name = f"sandbox-{self.emulator.name}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def set_faults(self, config: FaultConfig) -> None:
        self.plan.reset(config)

    def serve(self, req: Request, handler: _Handler) -> None:
        """Apply the fault plan to one vendor request, then answer it."""
        decision = self.plan.decide()
        self.stats.count(self.emulator.endpoint_key(req), decision.kind)
        if decision.latency_s:
            time.sleep(decision.latency_s)
        if decision.kind == "reset":
            handler.reset_connection()
            return
        if decision.kind in ("rate_limit", "server_error", "quota", "session_expired"):
            handler.send_or_ignore(self.emulator.fault_response(decision.kind, req))
            return
        if decision.kind == "slow":
            time.sleep(decision.slow_s)
        response = self._handle(req)
        truncated = _truncate(response) if decision.kind == "malformed" else None
        if truncated is not None:
            response = Response(200, None, {**response.headers, "Content-Type": "application/json"})
        handler.send_or_ignore(response, truncated)

    def _handle(self, req: Request) -> Response:
        try:
            return self.emulator.handle(req)
        except Exception:
            log.exception("sandbox %s failed on %s %s", self.emulator.name, req.method, req.path)
            return self.emulator.fault_response("server_error", req)

    def control(self, req: Request) -> Response:
        """``/__sandbox/faults`` and ``/__sandbox/stats``."""
        route = (req.method, req.path.rstrip("/"))
        if route == ("GET", "/__sandbox/stats"):
            return Response(200, self.stats.snapshot())
        if route == ("DELETE", "/__sandbox/stats"):
            self.stats.clear()
            return Response(200, self.stats.snapshot())
        if route == ("GET", "/__sandbox/faults"):
            return Response(200, self.plan.config.to_dict())
        if route == ("POST", "/__sandbox/faults"):
            return self._post_faults(req)
        return Response(404, {"error": f"no sandbox control endpoint {req.method} {req.path}"})

    def _post_faults(self, req: Request) -> Response:
        try:
            config = FaultConfig.from_dict(req.json() or {})
        except ValueError as exc:
            return Response(400, {"error": str(exc)})
        self.set_faults(config)
        return Response(200, config.to_dict())


def _truncate(response: Response) -> bytes:
    """A JSON body cut in half (at least one byte short of valid JSON)."""
    body, _ = response.encoded()
    if len(body) < 2:
        body = json.dumps({"sandbox": "malformed"}).encode()
    return body[: len(body) // 2]
