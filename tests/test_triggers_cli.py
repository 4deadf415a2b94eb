"""`nrr triggers` and `nrr renewals` on a real project directory."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from test_triggers_fixtures import AS_OF, account, contract, make_store, usage_rows
from nrr.cli import cli


@pytest.fixture
def project(tmp_path):
    runner = CliRunner()
    assert runner.invoke(cli, ["init", str(tmp_path / "p")]).exit_code == 0
    root = tmp_path / "p"
    # p: 95 of a 100 plan limit used (plan_limit_80); renews 2026-08-01 (32 days after 06-30)
    store = make_store(root / ".nrr", [account("p", plan_limit=100, name="Pine & Co")],
                       usage_rows("p", "u", AS_OF, AS_OF, 95.0),
                       [contract("c1", "p", "2025-08-01", "2026-07-31", "1000")])
    for day in ("2026-06-30", "2026-07-01"):
        store.con.execute(f"INSERT INTO score_snapshots VALUES ('p', DATE '{day}', 'mid-market', 90.0, 'Thriving', "
                          "1.0, '{}', now())")
    store.close()
    return runner, root


def _run(runner, root, *args):
    return runner.invoke(cli, ["--project", str(root), *args], catch_exceptions=False)


def test_triggers_evaluate_then_list(project):
    runner, root = project
    res = _run(runner, root, "triggers", "--evaluate", "--as-of", "2026-06-30", "--json")
    assert res.exit_code == 0, res.output
    events = json.loads(res.stdout)
    # plan_limit_80, usage_notice_90, renewal_expansion (32 ≤ 90 days, health 90)
    assert sorted(e["trigger"] for e in events) == ["plan_limit_80", "renewal_expansion", "usage_notice_90"]
    again = _run(runner, root, "triggers", "--evaluate", "--as-of", "2026-07-01", "--json")
    assert again.exit_code == 0, again.output
    assert "0 trigger(s) fired on 2026-07-01" in again.stderr      # all three in cooldown
    assert len(json.loads(again.stdout)) == 3                     # and still listed from 06-30
    table = _run(runner, root, "triggers", "--as-of", "2026-06-30")
    assert "plan_limit_80" in table.output


def test_triggers_need_scores(project):
    runner, root = project
    res = runner.invoke(cli, ["--project", str(root), "triggers", "--evaluate", "--as-of", "2026-06-28"])
    assert res.exit_code == 1
    assert "no health scores stored for 2026-06-28: run `nrr score --as-of 2026-06-28` first" in res.output


def test_renewals_json_and_table(project):
    runner, root = project
    res = _run(runner, root, "renewals", "--as-of", "2026-06-30", "--days", "90", "--json")
    data = json.loads(res.stdout)
    r = data["renewals"][0]
    # ARR 12 × 1000 = 12,000; green (health 90, no red flags) × 0.95 = 11,400.00
    assert (r["account_id"], r["renewal_date"], r["arr"], r["rag"], r["expected_arr"]) == (
        "p", "2026-08-01", "12000.00", "green", "11400.00")
    assert [m["days_before"] for m in data["milestones"]] == [180, 120, 90, 60, 30, 14, 7]
    assert _run(runner, root, "renewals", "--as-of", "2026-06-30").exit_code == 0
    empty = _run(runner, root, "renewals", "--as-of", "2026-06-30", "--days", "10")
    assert "No renewals in the 10 days from 2026-06-30." in empty.output


def test_playbooks_command(project):
    runner, root = project
    _run(runner, root, "triggers", "--evaluate", "--as-of", "2026-06-30")
    res = _run(runner, root, "playbooks", "--as-of", "2026-06-30", "--json")
    rows = json.loads(res.stdout)
    # health 90 with open expansion triggers → expansion, due with the earliest trigger (usage_notice_90, SLA 0)
    assert [(r["account_id"], r["playbook"], r["due_date"]) for r in rows] == [("p", "expansion", "2026-06-30")]


def test_help_has_examples():
    runner = CliRunner()
    for cmd in ("triggers", "renewals", "playbooks"):
        res = runner.invoke(cli, [cmd, "--help"])
        assert res.exit_code == 0 and "Example" in res.output
