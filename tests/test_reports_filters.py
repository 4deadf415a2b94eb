"""Formatting filters (one definition for HTML, DOCX and ICS) and the formula-injection rule."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from click.testing import CliRunner

from reports import filters as f
from reports.charts import heat_colour
from reports.settings import Branding
from reports.tabular import neutralise


@pytest.mark.parametrize("value, expected", [
    (Decimal("806808.67"), "$806,809"), (Decimal("-1200.5"), "−$1,201"), (None, "–"), (float("nan"), "–"),
    (Decimal("0"), "$0"),
])
def test_money(value, expected):
    assert f.money(value) == expected


def test_money_other_currencies_and_short():
    assert f.money(Decimal("1234.5"), "EUR", 2) == "€1,234.50"
    assert f.money(Decimal("10"), "CHF") == "CHF 10"
    # 806,808.67 / 1,000 = 806.8 K; 12,400,000 / 10^6 = 12.40 M
    assert f.money_short(Decimal("806808.67")) == "$806.8K" and f.money_short(Decimal("12400000")) == "$12.40M"


def test_percent_points_and_changes():
    assert f.percent(Decimal("1.0148")) == "101.5%" and f.percent(Decimal("0.72225")) == "72.2%"
    assert f.points(Decimal("-0.2778")) == "−27.8 pts" and f.points(Decimal("0.012")) == "+1.2 pts"
    assert f.pct_change(Decimal("0.27778")) == "+27.8%" and f.signed(0) == "±0.0"
    assert f.ratio(Decimal("2.9727")) == "2.97×"


def test_dates():
    assert f.date(dt.date(2026, 11, 5)) == "5 Nov 2026" and f.date("2026-11-05", "month") == "November 2026"
    assert f.date(None) == "–"


@pytest.mark.parametrize("text, expected", [
    ("=1+1", "'=1+1"), ("+44 20", "'+44 20"), ("-5", "'-5"), ("@SUM(A1)", "'@SUM(A1)"), ("\t=x", "'\t=x"),
    ("Acme", "Acme"), ("a=b", "a=b"),
])
def test_neutralise(text, expected):
    assert neutralise(text) == expected


def test_heat_colour_scale():
    # 100% is white; 120% and above the full green; 80% and below the full red
    assert heat_colour(Decimal(1)) == "#ffffff" and heat_colour(Decimal("1.5")) == "#81c784"
    assert heat_colour(Decimal("0.5")) == "#ef9a9a" and heat_colour(None) == "#ffffff"


def test_accent_colour_must_be_hex():
    with pytest.raises(ValueError, match="hex colour"):
        Branding(accent_colour="red; background: url(file:///etc/passwd)")
    assert Branding(accent_colour="#0B5394").accent_colour == "#0b5394"


def test_report_commands_have_help():
    from nrr.cli import cli

    for cmd in ("board", "playbook", "renewals"):
        result = CliRunner().invoke(cli, ["report", cmd, "--help"])
        assert result.exit_code == 0 and "Examples" in result.output, cmd


def test_reports_step_registered():
    from nrr.steps import STEP_FUNCTIONS, reports_step

    assert STEP_FUNCTIONS["reports"] is reports_step


def _project(tmp_path):
    from nrr.project import init_project
    from test_reports_fixtures import make_book

    init_project(tmp_path / "proj")
    (tmp_path / "proj" / ".nrr").mkdir(exist_ok=True)
    make_book(tmp_path / "proj" / ".nrr").close()
    return tmp_path / "proj"


def test_report_command_writes_into_the_output_folder(tmp_path):
    from nrr.cli import cli

    proj = _project(tmp_path)
    result = CliRunner().invoke(cli, ["--project", str(proj), "report", "renewals", "--as-of", "2026-06-30",
                                      "--days", "60", "--format", "csv,ics"])
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (proj / "out").iterdir())
    assert names == ["renewals-2026-06-30-60d-milestones.csv", "renewals-2026-06-30-60d.csv",
                     "renewals-2026-06-30-60d.ics"]
    bad = CliRunner().invoke(cli, ["--project", str(proj), "report", "renewals", "--format", "xml"])
    assert bad.exit_code == 2 and "format 'xml' not available; use csv, xlsx, ics, pdf, docx" in bad.output
    quarter = CliRunner().invoke(cli, ["--project", str(proj), "report", "board", "--quarter", "2026-09"])
    assert quarter.exit_code == 2 and "not a quarter" in quarter.output


def test_board_needs_an_ended_quarter(tmp_path):
    from reports.errors import ReportConfigError
    from reports.render import previous_quarter, render_reports
    from test_reports_fixtures import make_book, make_config

    # 15 Nov 2026 lies in Q4, so the last full quarter is Q3
    assert previous_quarter(dt.date(2026, 11, 15)).label == "2026-Q3"
    store = make_book(tmp_path)
    with pytest.raises(ReportConfigError, match="2026-Q3 ends on 2026-09-30, after the as-of date 2026-06-30"):
        render_reports(store, make_config(tmp_path), dt.date(2026, 6, 30), {"board": ["pdf"]}, tmp_path / "out",
                       quarter="2026-Q3")
    store.close()
