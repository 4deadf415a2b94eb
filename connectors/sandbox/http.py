"""Wire-level types shared by every sandbox emulator and the sandbox server.

An emulator is a plain object that turns a parsed :class:`Request` into a
:class:`Response`; it never touches sockets.  The server (``server.py``) owns
transport, TLS, cross-cutting faults and per-endpoint statistics, so each
vendor emulator only has to speak its vendor's wire format.

Body encoding rule for :class:`Response`: ``dict``/``list`` (and any other
JSON value except ``str``/``bytes``) is JSON encoded with
``Content-Type: application/json``; ``bytes`` and ``str`` are sent as-is
(``str`` as UTF-8) and the emulator sets the content type itself when it
matters (e.g. SOAP XML).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qs

FAULT_KINDS = ("rate_limit", "server_error", "quota", "session_expired")


@dataclass
class Request:
    """One HTTP request as the emulator sees it (headers lower-cased)."""

    method: str
    path: str
    query: dict[str, list[str]] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The body decoded as JSON, or ``None`` when the body is empty.

        Raises ``ValueError`` (``json.JSONDecodeError``) on a malformed body so
        the emulator can answer with its vendor's 400 format.
        """
        if not self.body.strip():
            return None
        return json.loads(self.body.decode("utf-8"))

    def form(self) -> dict[str, list[str]]:
        """The body parsed as ``application/x-www-form-urlencoded`` (Stripe)."""
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def param(self, name: str, default: str | None = None) -> str | None:
        """First value of query parameter ``name`` (or ``default``)."""
        values = self.query.get(name)
        return values[0] if values else default

    def header(self, name: str, default: str | None = None) -> str | None:
        """Header value by case-insensitive name."""
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    """What an emulator answers; see the module docstring for body encoding."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        """Return ``(body_bytes, headers)`` with Content-Type filled in."""
        headers = dict(self.headers)
        if self.body is None:
            return b"", headers
        if isinstance(self.body, bytes):
            return self.body, headers
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), headers
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json;charset=UTF-8"
        return json.dumps(self.body, default=str).encode("utf-8"), headers


@runtime_checkable
class Emulator(Protocol):
    """What the sandbox server needs from a vendor emulator."""

    name: str
    tls: bool

    def handle(self, req: Request) -> Response:
        """Serve one request with the vendor's real wire format."""
        ...

    def endpoint_key(self, req: Request) -> str:
        """Stable key for per-endpoint call counts, e.g. ``"GET /v1/customers"``."""
        ...

    def fault_response(self, kind: str, req: Request) -> Response:
        """The vendor's real error for ``kind`` (one of :data:`FAULT_KINDS`)."""
        ...
