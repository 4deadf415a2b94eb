"""`nrr score`, `nrr account` and `nrr backtest` on small projects."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from engine.store import Store
from nrr.cli import cli
from nrr.project import ProjectContext, init_project
import test_health_fixtures as fx

CORE = '\n[health]\ncore_features = ["f1", "f2", "f3", "f4"]\n'


@pytest.fixture()
def project(tmp_path):
    init_project(tmp_path)
    cfg = tmp_path / "nrr.toml"
    cfg.write_text(cfg.read_text() + CORE)
    with Store(ProjectContext(tmp_path).store_path) as store:
        fx.load(store)
    return tmp_path


def run(project, *args):
    return CliRunner().invoke(cli, ["--project", str(project), *args], catch_exceptions=False)


def test_score_stores_snapshots_and_since_rebuilds(project):
    res = run(project, "score", "--as-of", "2026-06-30", "--json")
    assert res.exit_code == 0, res.output
    summary = json.loads(res.output)
    # A1 16.1 Churning, A2 51.9 At risk, A3 22.8 Churning (by hand in test_health_score)
    assert summary["accounts"] == 3 and summary["bands"]["At risk"] == 1 and summary["bands"]["Churning"] == 2
    res = run(project, "score", "--as-of", "2026-06-30", "--since", "2026-06-28")
    assert res.exit_code == 0 and "rebuilt 9 snapshots" in res.output
    with Store(ProjectContext(project).store_path) as store:
        assert store.con.execute("SELECT count(*) FROM score_snapshots").fetchall()[0][0] == 9


def test_account_by_name_shows_signals_and_plan(project):
    run(project, "score", "--as-of", "2026-06-30")
    res = run(project, "account", "bolt", "--as-of", "2026-06-30", "--json")
    assert res.exit_code == 0, res.output
    view = json.loads(res.output)
    assert (view["account_id"], view["score"], view["band"], view["stored"]) == ("A2", 51.9, "At risk", True)
    assert {s["signal"] for s in view["signals"]} >= {"usage_trend", "champion_days_silent", "payment_issues"}
    assert set(view) >= {"triggers", "renewals", "playbook"}
    text = run(project, "account", "A1", "--as-of", "2026-06-30")
    assert text.exit_code == 0 and "Acme" in text.output and "seat utilisation" in text.output


def test_unknown_or_ambiguous_account_is_one_clear_line(project):
    res = CliRunner().invoke(cli, ["--project", str(project), "account", "nobody"])
    assert res.exit_code == 1 and "no account with id or name 'nobody'" in res.output
    res = CliRunner().invoke(cli, ["--project", str(project), "account", "o"])  # Bolt, Cato
    assert res.exit_code == 1 and "matches 2 accounts" in res.output


def test_backtest_without_month_end_is_one_clear_line(project):
    res = CliRunner().invoke(cli, ["--project", str(project), "backtest", "--from", "2026-06-02", "--to", "2026-06-20"])
    assert res.exit_code == 1 and "no month-end between" in res.output


def test_every_health_command_has_help_with_example():
    for name in ("score", "account", "backtest"):
        res = CliRunner().invoke(cli, [name, "--help"])
        assert res.exit_code == 0 and "Example" in res.output
