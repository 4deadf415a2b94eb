"""One job at a time per project.

The lock is an OS file lock (``flock``) on ``.nrr/run.lock``: the kernel releases it
when the holding process exits, however it exits, so a crashed or killed run never
leaves the project locked. Next to it, ``.nrr/run.lock.json`` names the holder (run id,
pid, host, start time) so a second run can say who is running.
"""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from nrr.errors import NrrError


class RunLocked(NrrError):
    """Another run holds the project's lock."""


@dataclass
class RunLock:
    state_dir: Path
    run_id: str
    started_at: str

    def __post_init__(self) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._lock = FileLock(str(self.state_dir / "run.lock"), timeout=0)
        self._info = self.state_dir / "run.lock.json"

    def __enter__(self) -> "RunLock":
        try:
            self._lock.acquire()
        except Timeout:
            raise RunLocked(f"another run is in progress: {self.holder()}; wait for it to finish") from None
        self._info.write_text(json.dumps({
            "run_id": self.run_id, "pid": os.getpid(), "host": socket.gethostname(), "started_at": self.started_at,
        }))
        return self

    def __exit__(self, *exc) -> None:
        self._info.unlink(missing_ok=True)
        self._lock.release()

    def holder(self) -> str:
        try:
            info = json.loads(self._info.read_text())
        except (OSError, ValueError):
            return "unknown run (lock file .nrr/run.lock is held)"
        return f"run {info['run_id']} (pid {info['pid']} on {info['host']}, started {info['started_at']} UTC)"
