"""Charts for the board report: matplotlib figures as SVG (PDF) or PNG (DOCX).

Figures are built with :class:`matplotlib.figure.Figure` (no pyplot global state) and
saved without a creation date or random ids, so the same context gives the same bytes.
The cohort heatmap is a coloured table, not an image: :func:`heat_colour` is shared by
the HTML template and the DOCX renderer.
"""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import matplotlib
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, PercentFormatter

from reports import filters as f

matplotlib.rcParams.update({"svg.hashsalt": "nrr-engine", "svg.fonttype": "none", "font.family": "DejaVu Sans",
                            "font.size": 8, "axes.spines.top": False, "axes.spines.right": False})

GREY, GREEN, RED, AMBER = "#8c8c8c", "#2e7d32", "#c62828", "#ef8f00"
RAG_COLOURS = {"red": RED, "amber": AMBER, "green": GREEN}


def _save(fig: Figure, fmt: str) -> bytes:
    buf = io.BytesIO()
    meta = {"Date": None} if fmt == "svg" else {"Software": None} if fmt == "png" else {}
    fig.savefig(buf, format=fmt, dpi=200, bbox_inches="tight", metadata=meta)
    return buf.getvalue()


def _pct(values: list[Any]) -> list[float | None]:
    return [None if v is None else float(v) * 100 for v in values]


def trend_chart(trend: list[Any], accent: str, fmt: str = "svg") -> bytes:
    """TTM NRR, GRR and logo retention per quarter, with the 100% line."""
    fig = Figure(figsize=(6.8, 2.6))
    ax = fig.add_subplot()
    x = [p.period for p in trend]
    for label, values, colour, style in (("NRR", [p.nrr for p in trend], accent, "-"),
                                         ("GRR", [p.grr for p in trend], GREY, "-"),
                                         ("Logo retention", [p.logo_retention for p in trend], GREY, ":")):
        ys = [None if p.thin else y for p, y in zip(trend, _pct(values))]
        ax.plot(x, [float("nan") if y is None else y for y in ys], style, color=colour, marker="o", ms=3, lw=1.6,
                label=label)
        if ys and ys[-1] is not None:
            ax.annotate(f"{ys[-1]:.1f}%", (len(x) - 1, ys[-1]), textcoords="offset points", xytext=(6, 0),
                        va="center", color=colour, fontsize=7)
    ax.axhline(100, color="#bbbbbb", lw=0.8, ls="--")
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.legend(loc="lower right", frameon=False, ncol=3, fontsize=7)
    ax.grid(axis="y", color="#eeeeee")
    return _save(fig, fmt)


def waterfall_chart(steps: list[Any], currency: str, accent: str, fmt: str = "svg") -> bytes:
    """Start ARR, movements (green up, red down) and end ARR as floating bars."""
    fig = Figure(figsize=(6.8, 2.6))
    ax = fig.add_subplot()
    level = Decimal(0)
    for i, s in enumerate(steps):
        if s.sign == 0:
            bottom, height, colour, level = 0, s.amount, accent, s.amount
        else:
            height = s.amount
            bottom = level if s.sign > 0 else level - s.amount
            colour = GREEN if s.sign > 0 else RED
            level = level + s.sign * s.amount
        ax.bar(i, float(height), bottom=float(bottom), color=colour, width=0.6)
        sign = "" if s.sign == 0 or not s.amount else "+" if s.sign > 0 else "−"
        label = sign + f.money_short(s.amount, currency)
        ax.annotate(label, (i, float(bottom + height)), textcoords="offset points", xytext=(0, 3), ha="center",
                    fontsize=7)
    ax.set_xticks(range(len(steps)), [s.label for s in steps])
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f.money_short(v, currency)))
    ax.grid(axis="y", color="#eeeeee")
    ax.set_axisbelow(True)
    return _save(fig, fmt)


def health_chart(bands: list[Any], accent: str, fmt: str = "svg", labels: tuple[str, str] = ("now", "before")) -> bytes:
    """Accounts per health band now, and at the comparison snapshot when there is one."""
    fig = Figure(figsize=(6.8, 1.6))
    ax = fig.add_subplot()
    names = [b.band for b in bands]
    has_before = any(b.accounts_before is not None for b in bands)
    width = 0.38 if has_before else 0.6
    now = [b.accounts for b in bands]
    ax.bar([i + (width / 2 if has_before else 0) for i in range(len(bands))], now, width, color=accent, label=labels[0])
    if has_before:
        ax.bar([i - width / 2 for i in range(len(bands))], [b.accounts_before or 0 for b in bands], width,
               color="#c9c9c9", label=labels[1])
        ax.legend(frameon=False, fontsize=7)
    for i, n in enumerate(now):
        ax.annotate(str(n), (i + (width / 2 if has_before else 0), n), textcoords="offset points", xytext=(0, 2),
                    ha="center", fontsize=7)
    ax.set_xticks(range(len(bands)), names)
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    ax.set_ylabel("accounts")
    return _save(fig, fmt)


def heat_colour(value: Any) -> str:
    """Background for a cohort NRR cell: red below 80%, white at 100%, green at 120%+."""
    if value is None:
        return "#ffffff"
    v = max(0.8, min(1.2, float(value)))
    if v >= 1.0:
        t = (v - 1.0) / 0.2
        return _mix((255, 255, 255), (129, 199, 132), t)
    t = (1.0 - v) / 0.2
    return _mix((255, 255, 255), (239, 154, 154), t)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    return "#" + "".join(f"{round(x + (y - x) * t):02x}" for x, y in zip(a, b))


def board_charts(ctx: Any, fmt: str) -> dict[str, bytes]:
    """Every chart of the board report in one format."""
    accent = ctx.brand.accent
    return {"trend": trend_chart(ctx.trend, accent, fmt),
            "waterfall": waterfall_chart(ctx.waterfall, ctx.currency, accent, fmt),
            "health": health_chart(ctx.health.bands, accent, fmt, _health_labels(ctx.health))}


def _health_labels(h: Any) -> tuple[str, str]:
    return (f"{f.date(h.day)}" if h.day else "now", f"{f.date(h.compare_day)}" if h.compare_day else "before")
