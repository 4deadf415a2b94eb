"""`nrr run`: the job cron calls every morning.

    sync → score → triggers → renewals → writeback → reports

Each step gets a :class:`RunState` (project, store, as-of date, what earlier steps
produced) and returns counts for the summary. A step that raises is recorded as failed
and the run goes on where it can: a failing source does not stop the others, and later
steps see which sources failed (write-back skips accounts whose inputs did not sync).
The run, each step's outcome, counts and timing are stored in the ``runs`` table.

Exit codes: 0 all ok, 1 something failed, 2 a configuration or credential error.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from engine.store import Store, utcnow
from nrr.errors import ConfigError, NrrError
from nrr.project import ProjectContext
from nrr.runlock import RunLock

log = logging.getLogger("nrr.run")


@dataclass
class StepResult:
    name: str
    status: str = "ok"  # ok | failed | skipped
    seconds: float = 0.0
    counts: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    config_error: bool = False


@dataclass
class RunState:
    """What a step can read: the project, the open store, the as-of date, earlier results."""

    project: ProjectContext
    store: Store
    run_id: str
    as_of: dt.date
    failed_sources: set[str] = field(default_factory=set)
    outputs: dict[str, Any] = field(default_factory=dict)


@dataclass
class RunReport:
    run_id: str
    as_of: dt.date
    steps: list[StepResult]

    @property
    def status(self) -> str:
        return "ok" if all(s.status != "failed" for s in self.steps) else "failed"

    @property
    def exit_code(self) -> int:
        if any(s.config_error for s in self.steps):
            return 2
        return 0 if self.status == "ok" else 1

    def summary(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "status": self.status, "steps": [asdict(s) for s in self.steps]}


Step = Callable[[RunState], dict[str, Any]]


def run_pipeline(
    project: ProjectContext,
    steps: list[tuple[str, Step]],
    *,
    as_of: dt.date,
    command: str = "run",
) -> RunReport:
    """Run ``steps`` in order under the project lock and record the run."""
    run_id = f"run-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    with RunLock(project.state_dir, run_id, utcnow().isoformat()), project.store() as store:
        _record_start(store, run_id, command)
        state = RunState(project, store, run_id, as_of)
        results = [_run_step(name, fn, state) for name, fn in steps]
        report = RunReport(run_id, as_of, results)
        _record_end(store, report)
    return report


def _run_step(name: str, fn: Step, state: RunState) -> StepResult:
    extra = {"run_id": state.run_id, "step": name}
    log.info("step %s started", name, extra=extra)
    result = StepResult(name)
    started = time.perf_counter()
    try:
        result.counts = fn(state) or {}
        result.status = result.counts.pop("_status", "ok")
        result.message = result.counts.pop("_message", "")
    except ConfigError as exc:
        result.status, result.message, result.config_error = "failed", str(exc), True
    except NrrError as exc:
        result.status, result.message = "failed", str(exc)
    except Exception as exc:  # a bug or an outside failure in one step must not stop the job
        result.status, result.message = "failed", f"{type(exc).__name__}: {exc}"
        log.exception("step %s failed", name, extra=extra)
    result.seconds = round(time.perf_counter() - started, 3)
    log.info("step %s %s in %.1fs %s", name, result.status, result.seconds, result.message, extra=extra)
    return result


def _record_start(store: Store, run_id: str, command: str) -> None:
    with store.transaction() as con:
        # We hold the lock, so any run still marked running died without finishing.
        con.execute("UPDATE runs SET status = 'abandoned' WHERE status = 'running'")
        con.execute("INSERT INTO runs VALUES (?, ?, ?, NULL, 'running', NULL)", [run_id, command, utcnow()])


def _record_end(store: Store, report: RunReport) -> None:
    with store.transaction() as con:
        con.execute(
            "UPDATE runs SET finished_at = ?, status = ?, summary = ? WHERE run_id = ?",
            [utcnow(), report.status, json.dumps(report.summary(), default=str), report.run_id],
        )


def recent_runs(store: Store, limit: int = 20) -> list[dict[str, Any]]:
    rows = store.con.execute(
        "SELECT run_id, command, started_at, finished_at, status, summary FROM runs ORDER BY started_at DESC LIMIT ?",
        [limit],
    ).fetchall()
    out = []
    for run_id, command, started, finished, status, summary in rows:
        steps = _steps_of(json.loads(summary)) if summary else []
        out.append({
            "run_id": run_id, "command": command, "started_at": started, "finished_at": finished, "status": status,
            "steps": {s["name"]: s["status"] for s in steps},
            "failed": [f"{s['name']}: {s['message']}" for s in steps if s["status"] == "failed"],
        })
    return out


def _steps_of(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Steps of a pipeline run; a sync run's sources shown as steps."""
    if "steps" in summary:
        return summary["steps"]
    return [
        {"name": name, "status": "ok" if src.get("ok") else "failed", "message": src.get("error") or ""}
        for name, src in summary.get("sources", {}).items()
    ]
