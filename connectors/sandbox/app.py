"""The sandbox: the three vendor emulators served from one process.

>>> from connectors.sandbox import Sandbox, FaultConfig, generate_book
>>> with Sandbox(generate_book(accounts=50)) as sb:            # doctest: +SKIP
...     sb.urls["salesforce"], sb.credentials["salesforce"], sb.ca_path
...     sb.set_faults("stripe", FaultConfig(rate_limit_burst=3))
...     sb.stats()["stripe"]["endpoints"]

Each emulator gets its own ``EmulatorServer`` on 127.0.0.1 (ephemeral ports
unless ``port_base`` is given: salesforce = base, hubspot = base + 1,
stripe = base + 2).  Emulators with ``tls = True`` are served over HTTPS with
a certificate signed by a CA made at start; clients trust :attr:`ca_path`.

Credentials: an emulator may expose ``credentials`` either as a dict or as a
method ``credentials(base_url) -> dict``; :attr:`Sandbox.credentials` collects
them per emulator name.
"""

from __future__ import annotations

import importlib
import signal
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Mapping

from connectors.sandbox.faults import FaultConfig
from connectors.sandbox.http import Emulator
from connectors.sandbox.server import EmulatorServer
from connectors.sandbox.tls import SandboxTLS

#: name → (module, class); the order fixes the ``port_base`` offsets.
EMULATORS: dict[str, tuple[str, str]] = {
    "salesforce": ("connectors.sandbox.salesforce", "SalesforceEmulator"),
    "hubspot": ("connectors.sandbox.hubspot", "HubSpotEmulator"),
    "stripe": ("connectors.sandbox.stripe_api", "StripeEmulator"),
}

Faults = FaultConfig | Mapping[str, FaultConfig] | None


class Sandbox:
    """Start emulators for ``book``; stop them with :meth:`stop` or ``with``."""

    def __init__(self, book: Any, faults: Faults = None, *, port_base: int | None = None,
                 emulators: tuple[str, ...] = tuple(EMULATORS),
                 clock: Callable[[], datetime] | None = None,
                 instances: Mapping[str, Emulator] | None = None,
                 tls_dir: Path | None = None) -> None:
        unknown = sorted(set(emulators) - set(EMULATORS))
        if unknown:
            raise ValueError(f"unknown sandbox emulator(s) {unknown}; choose from {list(EMULATORS)}")
        self.book = book
        self._tls = SandboxTLS(tls_dir)
        self.servers: dict[str, EmulatorServer] = {}
        try:
            for name in emulators:
                emulator = (instances or {}).get(name) or build_emulator(name, book, clock)
                port = 0 if port_base is None else port_base + list(EMULATORS).index(name)
                server = EmulatorServer(emulator, _faults_for(faults, name),
                                        self._tls.server_context(), port)
                self.servers[name] = server.start()
        except BaseException:
            self.stop()
            raise

    @property
    def ca_path(self) -> Path:
        """PEM file of the sandbox CA that HTTPS clients must trust."""
        return self._tls.ca_path

    @property
    def urls(self) -> dict[str, str]:
        return {name: server.base_url for name, server in self.servers.items()}

    @property
    def credentials(self) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for name, server in self.servers.items():
            creds = getattr(server.emulator, "credentials", None)
            if callable(creds):
                creds = creds(server.base_url)
            found[name] = dict(creds or {})
        return found

    def emulator(self, name: str) -> Emulator:
        return self._server(name).emulator

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per emulator: ``{"total", "endpoints": {key: n}, "faults": {kind: n}}``."""
        return {name: server.stats.snapshot() for name, server in self.servers.items()}

    def clear_stats(self) -> None:
        for server in self.servers.values():
            server.stats.clear()

    def set_faults(self, name: str, config: FaultConfig) -> None:
        """Replace the fault plan of one emulator (counting starts again)."""
        self._server(name).set_faults(config)

    def _server(self, name: str) -> EmulatorServer:
        if name not in self.servers:
            raise KeyError(f"sandbox has no running {name!r} emulator; running: {list(self.servers)}")
        return self.servers[name]

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        self.servers.clear()
        self._tls.cleanup()

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_until_interrupted(book: Any, *, port_base: int | None = None, tls_dir: Path | None = None,
                            on_ready: Callable[[Sandbox], None] = lambda sb: None,
                            poll_seconds: float = 0.5) -> None:
    """Run a sandbox for ``book`` in this process until Ctrl-C or SIGTERM (``nrr sandbox serve``)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    with Sandbox(book, port_base=port_base, tls_dir=tls_dir) as sandbox:
        try:
            on_ready(sandbox)
            while True:
                time.sleep(poll_seconds)
        except KeyboardInterrupt:
            return


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def build_emulator(name: str, book: Any, clock: Callable[[], datetime] | None = None) -> Emulator:
    """Construct the named emulator from the book (``clock`` passed when given)."""
    module_name, class_name = EMULATORS[name]
    cls = getattr(importlib.import_module(module_name), class_name)
    return cls(book, clock=clock) if clock is not None else cls(book)


def _faults_for(faults: Faults, name: str) -> FaultConfig | None:
    if faults is None or isinstance(faults, FaultConfig):
        return faults
    return faults.get(name)
