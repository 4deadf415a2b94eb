"""Entry point: build each requested report's context once and render it in every requested format.

    render_reports(store, config, as_of, {"board": ["pdf", "docx"], "renewals": ["csv", "xlsx"]}, out_dir)
    → {"board": [out/board-2026-Q3.pdf, out/board-2026-Q3.docx], "renewals": [...]}

The same context object feeds the PDF and the DOCX, so they cannot disagree. Output file
names carry the quarter or as-of date, never the wall-clock time.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path
from typing import Any, Callable

from engine.revenue import Period
from engine.store import utcnow
from reports.errors import ReportConfigError

log = logging.getLogger("nrr.reports")

FORMATS = {"board": ("pdf", "docx"), "playbook": ("pdf", "docx"), "renewals": ("csv", "xlsx", "ics", "pdf", "docx")}


def previous_quarter(day: dt.date) -> Period:
    """The last full quarter before the one containing ``day``."""
    return Period.containing(day, "quarter").shift(-1)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unnamed"


def check_requests(requests: dict[str, list[str]]) -> None:
    for report, formats in requests.items():
        if report not in FORMATS:
            raise ReportConfigError(f"unknown report {report!r}; expected one of {', '.join(FORMATS)}")
        bad = [f for f in formats if f not in FORMATS[report]]
        if bad:
            raise ReportConfigError(f"report {report}: format {bad[0]!r} not available; use {', '.join(FORMATS[report])}")


def _board(data, formats, out_dir, opts) -> list[Path]:
    from reports.board import render_board

    quarter = opts.get("quarter") or previous_quarter(data.as_of)
    quarter = quarter if isinstance(quarter, Period) else Period.parse(str(quarter))
    if quarter.end > data.as_of:
        raise ReportConfigError(f"quarter {quarter.label} ends on {quarter.end}, after the as-of date {data.as_of}: "
                                f"report an ended quarter or pass a later --as-of")
    return render_board(data, quarter, formats, out_dir, created=opts["created"])


def _playbook(data, formats, out_dir, opts) -> list[Path]:
    from reports.playbook import render_playbook

    return render_playbook(data, opts.get("owner"), formats, out_dir, created=opts["created"])


def _renewals(data, formats, out_dir, opts) -> list[Path]:
    from reports.renewals import render_renewals

    days = opts.get("days") or _default_days(data.config)
    return render_renewals(data, days, formats, out_dir, created=opts["created"])


def _default_days(config: Any) -> int:
    run = getattr(config, "sections", {}).get("run")
    return getattr(run, "renewal_days", None) or config.renewals.horizon_days


RENDERERS: dict[str, Callable[..., list[Path]]] = {"board": _board, "playbook": _playbook, "renewals": _renewals}


def render_reports(store, config, as_of: dt.date, requests: dict[str, list[str]], out_dir: Path, *,
                   quarter: str | Period | None = None, owner: str | None = None, days: int | None = None,
                   created: dt.datetime | None = None, timeline: Any = None) -> dict[str, list[Path]]:
    """Render each requested report (board | playbook | renewals) in its formats into ``out_dir``.

    ``quarter`` (board; default the last full quarter before ``as_of``), ``owner``
    (playbook: only that owner's accounts), ``days`` (renewals horizon; default
    [run].renewal_days). ``created`` is the generation time written to file metadata.
    ``timeline``: the renewal timeline already computed from this store as of ``as_of``
    (reused when it covers the horizon asked for).
    """
    from reports.context.data import ReportInputs

    check_requests(requests)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data = ReportInputs(store, config, as_of)
    if timeline is not None:
        data.use_timeline(timeline)
    opts = {"quarter": quarter, "owner": owner, "days": days, "created": created or utcnow()}
    written: dict[str, list[Path]] = {}
    for report, formats in requests.items():
        if formats:
            written[report] = RENDERERS[report](data, list(dict.fromkeys(formats)), out_dir, opts)
            log.info("report %s: %s", report, ", ".join(p.name for p in written[report]))
    return written
