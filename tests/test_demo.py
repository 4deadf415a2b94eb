"""`nrr demo --sample-files`: the whole pipeline end to end on the bundled sample book,
through the CLI, ending with every report format on disk and the run recorded."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nrr.cli import cli

AS_OF = "2026-11-15"  # the sample book's as-of date


def test_demo_on_sample_files_runs_every_step_and_writes_every_report(tmp_path):
    project = tmp_path / "demo"
    result = CliRunner().invoke(cli, ["demo", "--dir", str(project), "--sample-files", "--as-of", AS_OF])
    assert result.exit_code == 0, result.output
    assert "TTM NRR" in result.output and "accounts by health band" in result.output
    out = sorted(p.name for p in (project / "out").iterdir())
    # board for the last full quarter before 2026-11-15 is 2026-Q3; playbook and renewals dated as of the run
    assert out == sorted([
        "board-2026-Q3.pdf", "board-2026-Q3.docx",
        "playbook-2026-11-15.pdf", "playbook-2026-11-15.docx",
        "renewals-2026-11-15-180d.csv", "renewals-2026-11-15-180d-milestones.csv",
        "renewals-2026-11-15-180d.xlsx", "renewals-2026-11-15-180d.ics",
        "renewals-2026-11-15-180d.pdf", "renewals-2026-11-15-180d.docx",
    ])
    runs = CliRunner().invoke(cli, ["--project", str(project), "runs", "--json"])
    (run,) = json.loads(runs.output)
    assert run["command"] == "demo" and run["status"] == "ok"
    assert run["steps"]["sync"] == "ok" and run["steps"]["reports"] == "ok"
    assert run["steps"]["writeback"] == "skipped"  # no CRM in the sample-files demo
