"""End to end: `nrr run` (sync → score → triggers → renewals → writeback) against the sandbox,
then the CRM values compared with the stored snapshot; the CLI commands on the same project."""

from __future__ import annotations


import pytest
from click.testing import CliRunner

from connectors.sandbox.app import Sandbox
from connectors.sandbox.book import generate_book
from nrr.cli import cli
from nrr.pipeline import run_pipeline
from nrr.project import CONFIG_FILE, CREDENTIALS_FILE, ProjectContext, init_project
from nrr.steps import pipeline_steps

STEPS = ["sync", "score", "triggers", "renewals", "writeback"]


def config_text(sb: Sandbox) -> str:
    """All three sandbox APIs, Stripe as the revenue source, fields created by the first run."""
    lines = ['[revenue]', 'source = "stripe"', '[sync]', 'primary = "salesforce"']
    for name, url in sb.urls.items():
        lines += [f"[sources.{name}]", "enabled = true", f'base_url = "{url}"', f'ca_bundle = "{sb.ca_path}"']
    lines += ["[sources.files]", "enabled = false"]
    lines += ["[writeback.salesforce]", "create_missing_fields = true",
              "[writeback.hubspot]", "create_missing_fields = true"]
    return "\n".join(lines) + "\n"


def credentials_text(sb: Sandbox) -> str:
    return "".join(f"[{name}]\n" + "".join(f'{k} = "{v}"\n' for k, v in values.items())
                   for name, values in sb.credentials.items())


def sandbox_project(directory, sb: Sandbox) -> ProjectContext:
    """A new project in ``directory`` pointed at the running sandbox (see :func:`config_text`)."""
    init_project(directory)
    (directory / CONFIG_FILE).write_text(config_text(sb))
    (directory / CREDENTIALS_FILE).write_text(credentials_text(sb))
    (directory / CREDENTIALS_FILE).chmod(0o600)
    return ProjectContext(directory)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    book = generate_book(accounts=40, seed=5)
    directory = tmp_path_factory.mktemp("wb-project")
    with Sandbox(book) as sb:
        project = sandbox_project(directory, sb)
        first = run_pipeline(project, pipeline_steps(STEPS), as_of=book.as_of)
        yield {"project": project, "sb": sb, "book": book, "first": first}


def _step(report, name):
    return next(s for s in report.steps if s.name == name)


def _snapshot(project, as_of):
    with project.store(read_only=True) as store:
        return store.con.execute("""
            SELECT a.source, a.source_id, s.score, s.band, s.coverage, s.computed_at
            FROM score_snapshots s JOIN accounts a USING (account_id)
            WHERE s.day = ? AND a.source IN ('salesforce', 'hubspot') AND NOT a.deleted AND s.score IS NOT NULL
            ORDER BY 1, 2""", [as_of]).fetchall()


def test_run_writes_crm_values_equal_to_the_stored_snapshot(world):
    first = world["first"]
    assert [s.status for s in first.steps] == ["ok"] * 5, [(s.name, s.message) for s in first.steps]
    counts = _step(first, "writeback").counts
    assert counts["salesforce"]["written"] > 0 and counts["hubspot"]["written"] > 0
    rows = _snapshot(world["project"], world["book"].as_of)
    sf, hs = world["sb"].emulator("salesforce"), world["sb"].emulator("hubspot")
    assert {r[0] for r in rows} == {"salesforce", "hubspot"}
    for source, record_id, score, band, coverage, computed_at in rows:
        stamp = computed_at.strftime("%Y-%m-%dT%H:%M:%S")
        if source == "salesforce":
            rec = sf.record("Account", record_id)
            got = (rec["NRR_Health_Score__c"], rec["NRR_Health_Band__c"], rec["NRR_Data_Coverage__c"],
                   rec["NRR_Last_Computed_At__c"][:19])
        else:
            p = hs.portal.get("companies", record_id).props
            got = (float(p["nrr_health_score"]), p["nrr_health_band"], float(p["nrr_data_coverage"]),
                   p["nrr_last_computed_at"][:19])
        # coverage is stored as a share (0.8125) and written as a percentage with 1 dp (81.2)
        assert got == (round(score, 1), band, round(coverage * 100, 1), stamp), (source, record_id)


def test_unchanged_second_run_sends_no_write_requests(world):
    sb, project = world["sb"], world["project"]
    sb.clear_stats()
    second = run_pipeline(project, pipeline_steps(STEPS), as_of=world["book"].as_of)
    counts = _step(second, "writeback").counts
    assert _step(second, "writeback").status == "ok"
    assert (counts["salesforce"]["changes"], counts["salesforce"]["calls"]) == (0, 0)
    assert (counts["hubspot"]["changes"], counts["hubspot"]["calls"]) == (0, 0)
    endpoints = {**sb.stats()["salesforce"]["endpoints"], **sb.stats()["hubspot"]["endpoints"]}
    assert endpoints.get("PATCH /services/data/composite/sobjects", 0) == 0
    assert endpoints.get("POST /crm/v3/objects/companies/batch/update", 0) == 0


def test_dry_run_prints_old_and_new_and_writes_nothing(world):
    sb, project = world["sb"], world["project"]
    sf = sb.emulator("salesforce")
    record_id, band = _first_sf(project, world)
    # a CSM edits the band in Salesforce (through the emulator's own write path, which stamps SystemModstamp)
    sf.writer.apply("Account", record_id, {"NRR_Health_Band__c": "Edited by hand"}, sf.clock())
    with project.store(read_only=True) as store:
        audit_before = store.con.execute("SELECT count(*) FROM writeback_audit").fetchone()[0]
    sb.clear_stats()
    result = CliRunner().invoke(cli, ["--project", str(project.dir), "writeback", "--dry-run",
                                      "--as-of", world["book"].as_of.isoformat(), "--target", "salesforce"])
    assert result.exit_code == 0, result.output
    # the band, and the stamp that rides along when the second run's computed_at falls in
    # another second than the one written by the first run (the field holds whole seconds)
    with project.store(read_only=True) as store:
        written = store.con.execute("SELECT value FROM crm_values WHERE target = 'salesforce' AND record_id = ? "
                                    "AND field = 'last_computed_at'", [record_id]).fetchone()[0]
        computed = store.con.execute("SELECT max(computed_at) FROM score_snapshots").fetchone()[0]
    stamp_moved = computed.strftime("%Y-%m-%dT%H:%M:%SZ") != written
    assert f"{1 + stamp_moved} field change(s) on 1 record(s)" in result.output
    assert "NRR_Health_Band__c" in result.output
    assert ("NRR_Last_Computed_At__c" in result.output) == stamp_moved
    assert f"Edited by hand → {band}" in result.output
    assert sb.stats()["salesforce"]["endpoints"].get("PATCH /services/data/composite/sobjects", 0) == 0
    with project.store(read_only=True) as store:
        assert store.con.execute("SELECT count(*) FROM writeback_audit").fetchone()[0] == audit_before
    assert sf.record("Account", record_id)["NRR_Health_Band__c"] == "Edited by hand"


def _first_sf(project, world):
    rows = [r for r in _snapshot(project, world["book"].as_of) if r[0] == "salesforce"]
    return rows[0][1], rows[0][3]


def test_crm_setup_command_is_idempotent(world):
    project = world["project"]
    result = CliRunner().invoke(cli, ["--project", str(project.dir), "crm", "setup"])
    assert result.exit_code == 0, result.output
    # the first run created every field (create_missing_fields = true); nothing is left to create
    assert "salesforce: 14 present, 0 created" in result.output
    assert "hubspot: 14 present, 0 created" in result.output


def test_commands_have_help():
    for args in (["writeback", "--help"], ["crm", "setup", "--help"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0 and "Usage" in result.output


def test_step_skips_targets_whose_sync_failed(world):
    from nrr.pipeline import RunState
    from nrr.steps import writeback_step

    sb, project = world["sb"], world["project"]
    sb.clear_stats()
    with project.store() as store:
        state = RunState(project, store, "run-test", world["book"].as_of, failed_sources={"salesforce", "hubspot"})
        counts = writeback_step(state)
    assert "did not sync" in counts["salesforce"]["skipped"] and "did not sync" in counts["hubspot"]["skipped"]
    assert "_status" not in counts      # the sync step already reports the failure
    assert sb.stats()["salesforce"]["total"] == 0 and sb.stats()["hubspot"]["total"] == 0
