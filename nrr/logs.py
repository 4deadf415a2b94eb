"""Logging for scheduled runs: ``<project>/.nrr/logs/nrr.log``, rotated, optionally JSON.

Every handler carries a :class:`SecretRedactor`, which replaces any credential value
the run has resolved with ``****`` — a last line of defence; code never logs secrets
on purpose.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
from pathlib import Path

LOGGER = "nrr"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5


class SecretRedactor(logging.Filter):
    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def add(self, values) -> None:
        self.secrets.update(str(v) for v in values if isinstance(v, str) and len(v) >= 6)

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            for secret in self.secrets:
                message = message.replace(secret, "****")
            record.msg, record.args = message, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key in ("run_id", "step", "source"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(entry)


REDACTOR = SecretRedactor()


def configure(log_dir: Path, *, json_logs: bool = False, level: int = logging.INFO) -> Path:
    """Send the ``nrr`` logger (and the connectors' loggers) to a rotating file."""
    log_dir.mkdir(parents=True, exist_ok=True)
    path = log_dir / "nrr.log"
    handler = logging.handlers.RotatingFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(JsonFormatter() if json_logs else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(REDACTOR)
    for name in (LOGGER, "connectors", "engine", "reports"):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        for old in [h for h in logger.handlers if getattr(h, "_nrr", False)]:
            logger.removeHandler(old)
            old.close()
        handler._nrr = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    return path
