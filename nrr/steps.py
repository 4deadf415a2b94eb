"""The steps of `nrr run`, each a thin call into one library function.

A step returns counts for the run summary; ``_status``/``_message`` in the returned
dict mark a partial failure (e.g. one source of three failed) without raising.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from nrr.errors import ConfigError
from nrr.logs import REDACTOR
from nrr.pipeline import RunState, Step

log = logging.getLogger("nrr.run")


def sync_step(state: RunState, *, progress: bool = False) -> dict[str, Any]:
    """Sync the enabled API sources, then import the files source (when enabled) —
    files such as a usage export may refer to accounts the CRM sync just brought in."""
    from connectors.sync import MODULES, sync_sources
    from connectors.writeback import values_riders

    cfg, counts, failed = state.project.config, {}, []
    api_sources = [n for n in MODULES if getattr(cfg.sources.get(n), "enabled", False)]
    if api_sources:
        riders = values_riders(state.store, cfg.sources, cfg.writeback) if "writeback" in cfg.run.steps else {}
        report = sync_sources(state.store, cfg.sources, _credentials(state), progress=progress,
                              sync_settings=cfg.sections.get("sync"), project_dir=state.project.dir,
                              current_values=riders, record=False)   # the run's own row holds the outcome
        for name, res in report.sources.items():
            counts[name] = {
                "ok": res.ok, "calls": res.calls, "retries": res.retries, "seconds": round(res.seconds, 2),
                "records": {s: st.new + st.updated for s, st in res.streams.items()},
            }
            if not res.ok:
                failed.append(f"{name}: {res.error}")
                state.failed_sources.add(name)
            elif res.values_read is not None:   # the write-back need not read this CRM again
                state.outputs.setdefault("values_read", {})[name] = res.values_read
    files = cfg.sources.get("files")
    if getattr(files, "enabled", False):
        try:
            counts["files"] = _import_files(state, Path(files.path))
        except Exception as exc:  # a bad file fails this source only; the API sources are stored
            failed.append(f"files: {exc}")
    if failed:
        counts["_status"], counts["_message"] = "failed", "; ".join(failed)
    return counts


def _credentials(state: RunState):
    def resolve(source: str) -> dict:
        values = state.project.credentials(source)
        REDACTOR.add(values.values())
        return values
    return resolve


def _import_files(state: RunState, path: Path) -> dict[str, int]:
    from connectors.files import ImportFailed, import_dir

    directory = path if path.is_absolute() else state.project.dir / path
    try:
        report = import_dir(state.store, directory, state.project.config.revenue.settings())
    except ImportFailed:
        state.failed_sources.add("files")
        raise
    return {k: r.new + r.updated for k, r in report.results.items()}


def score_step(state: RunState) -> dict[str, Any]:
    from engine.health import score_and_store

    cfg = state.project.config
    scores = score_and_store(state.store, cfg.health, state.as_of, revenue_source=cfg.revenue.source)
    state.outputs["scores"] = scores
    return {"accounts": len(scores), "bands": {k: int(v) for k, v in scores["band"].value_counts().items()}}


def triggers_step(state: RunState) -> dict[str, Any]:
    from nrr.commands.triggers import project_features, project_triggers

    state.outputs["features"] = project_features(state.project, state.store, state.as_of)   # renewals read them too
    fired = project_triggers(state.project, state.store, state.as_of, state.outputs.get("features"))
    kinds = fired["kind"].value_counts() if len(fired) else {}
    return {"fired": len(fired), **{k: int(v) for k, v in dict(kinds).items()}}


def renewals_step(state: RunState) -> dict[str, Any]:
    from nrr.commands.triggers import project_timeline

    days = state.project.config.run.renewal_days
    timeline = project_timeline(state.project, state.store, state.as_of, days, state.outputs.get("features"))
    state.outputs["renewals"] = timeline
    rag = timeline.renewals["rag"].value_counts() if len(timeline.renewals) else {}
    return {"renewals": len(timeline.renewals), **{k: int(v) for k, v in dict(rag).items()}}


def writeback_step(state: RunState) -> dict[str, Any]:
    """Write changed health fields to the CRMs; targets and accounts whose inputs did not
    sync this run are skipped (see connectors.writeback)."""
    from connectors.writeback import targets
    from nrr.commands.writeback import project_writeback

    cfg = state.project.config
    if not targets(cfg.sources, cfg.writeback):
        return {"_status": "skipped", "_message": "no CRM source is enabled: nothing to write back"}
    reports = project_writeback(state.project, state.store, state.as_of, state.run_id,
                                failed_sources=state.failed_sources, timeline=state.outputs.get("renewals"),
                                values_read=state.outputs.get("values_read"))
    counts: dict[str, Any] = {}
    problems = []
    for r in reports:
        res = r.result
        counts[r.target] = {"read": r.read, "changes": len(r.plan.changes) if r.plan else 0,
                            "written": res.records_written if res else 0, "failed": res.records_failed if res else 0,
                            "calls": res.calls if res else 0, "skipped_accounts": r.plan.skipped if r.plan else 0,
                            **({"skipped": r.skipped} if r.skipped else {})}
        if r.error or (res and res.records_failed):
            problems.append(f"{r.target}: {r.error or f'{res.records_failed} record(s) failed'}")
    if problems:
        counts["_status"], counts["_message"] = "failed", "; ".join(problems)
    return counts


def reports_step(state: RunState) -> dict[str, Any]:
    """Render the reports listed under [run.reports] into the project's output folder.

    Board: the last full quarter before the as-of date; renewals: [run].renewal_days.
    """
    from reports.render import render_reports

    cfg = state.project.config
    requests = {k: v for k, v in cfg.run.reports.model_dump().items() if v}
    out = state.project.dir / cfg.reports.output_dir
    written = render_reports(state.store, cfg, state.as_of, requests, out, days=cfg.run.renewal_days,
                             timeline=state.outputs.get("renewals"))
    return {name: [p.name for p in paths] for name, paths in written.items()}


STEP_FUNCTIONS: dict[str, Step] = {
    "sync": sync_step,
    "score": score_step,
    "triggers": triggers_step,
    "renewals": renewals_step,
    "writeback": writeback_step,
    "reports": reports_step,
}


def pipeline_steps(names: list[str]) -> list[tuple[str, Step]]:
    missing = [n for n in names if n not in STEP_FUNCTIONS]
    if missing:
        raise ConfigError(f"nrr.toml: run.steps: step {missing[0]!r} is not available in this installation")
    return [(n, STEP_FUNCTIONS[n]) for n in names]
