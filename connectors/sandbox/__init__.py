"""Local emulators of the Salesforce, HubSpot and Stripe APIs (demo and tests).

Public entry points (imported lazily so ``connectors.sandbox.http`` stays light):
``Sandbox`` (app.py), ``FaultConfig`` (faults.py), ``Request``/``Response``/``Emulator``
(http.py) and ``generate_book`` (book.py).
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Sandbox": "connectors.sandbox.app",
    "FaultConfig": "connectors.sandbox.faults",
    "Request": "connectors.sandbox.http",
    "Response": "connectors.sandbox.http",
    "Emulator": "connectors.sandbox.http",
    "generate_book": "connectors.sandbox.book",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'connectors.sandbox' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
