"""The write-back's current-values read rides on the sync's account pages (`nrr run` against
the sandbox): a CRM record modified since the last run is read once, by the sync, and the
write-back then contacts a CRM only to write."""

from __future__ import annotations

import json

import pytest

from connectors.sandbox.app import Sandbox
from connectors.sandbox.book import generate_book
from connectors.writeback import CURSOR_STREAM, values_riders
from nrr.pipeline import run_pipeline
from nrr.project import CONFIG_FILE, ProjectContext
from nrr.steps import pipeline_steps
from tests.test_writeback_run import _step, sandbox_project

STEPS = ["sync", "score", "triggers", "renewals", "writeback"]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    book = generate_book(accounts=40, seed=11)
    directory = tmp_path_factory.mktemp("wb-ride")
    with Sandbox(book) as sb:
        project = sandbox_project(directory, sb)
        first = run_pipeline(project, pipeline_steps(STEPS), as_of=book.as_of)
        assert first.status == "ok", [(s.name, s.message) for s in first.steps]
        yield {"project": project, "sb": sb, "book": book}


def _run(world):
    return run_pipeline(world["project"], pipeline_steps(STEPS), as_of=world["book"].as_of)


def _stored_band(project, as_of, source, record_id):
    with project.store(read_only=True) as store:
        return store.con.execute("SELECT s.band FROM score_snapshots s JOIN accounts a USING (account_id) "
                                 "WHERE s.day = ? AND a.source = ? AND a.source_id = ?",
                                 [as_of, source, record_id]).fetchone()[0]


def _scored_record(project, as_of, source):
    with project.store(read_only=True) as store:
        return store.con.execute("SELECT a.source_id FROM score_snapshots s JOIN accounts a USING (account_id) "
                                 "WHERE s.day = ? AND a.source = ? AND NOT a.deleted AND s.score IS NOT NULL "
                                 "ORDER BY 1 LIMIT 1", [as_of, source]).fetchone()[0]


def test_hand_edits_are_read_by_the_sync_and_put_back_with_one_call_per_crm(world):
    sb, project, as_of = world["sb"], world["project"], world["book"].as_of
    sf, hs = sb.emulator("salesforce"), sb.emulator("hubspot")
    sf_id, hs_id = _scored_record(project, as_of, "salesforce"), _scored_record(project, as_of, "hubspot")
    # CSMs overwrite a band in each CRM (the emulators' own write paths stamp the modification time)
    sf.writer.apply("Account", sf_id, {"NRR_Health_Band__c": "Edited by hand"}, sf.clock())
    hs.portal.write("companies", hs.portal.get("companies", hs_id), {"nrr_health_band": "Edited by hand"}, hs.clock())
    sb.clear_stats()
    second = _run(world)
    assert second.status == "ok", [(s.name, s.message) for s in second.steps]
    sync, wb = _step(second, "sync").counts, _step(second, "writeback").counts
    # the edited record (band + the computed-at stamp riding along) is the only one written:
    # the mapping check (describe / properties) and one write per CRM
    for target in ("salesforce", "hubspot"):
        assert (wb[target]["written"], wb[target]["calls"], wb[target]["changes"]) == (1, 2, 2), (target, wb)
        assert wb[target]["read"] > 0
    # every other request this run sent to a CRM is the sync's: the write-back read nothing
    # itself (Salesforce: + its own login)
    stats = sb.stats()
    assert stats["salesforce"]["total"] == sync["salesforce"]["calls"] + 1 + 2, stats["salesforce"]["endpoints"]
    assert stats["hubspot"]["total"] == sync["hubspot"]["calls"] + 2, stats["hubspot"]["endpoints"]
    assert sf.record("Account", sf_id)["NRR_Health_Band__c"] == _stored_band(project, as_of, "salesforce", sf_id)
    assert hs.portal.get("companies", hs_id).props["nrr_health_band"] == _stored_band(project, as_of, "hubspot", hs_id)


def test_a_third_run_contacts_the_crms_only_to_sync(world):
    sb = world["sb"]
    sb.clear_stats()
    third = _run(world)
    sync, wb = _step(third, "sync").counts, _step(third, "writeback").counts
    assert (wb["salesforce"]["calls"], wb["hubspot"]["calls"]) == (0, 0)
    assert sb.stats()["salesforce"]["total"] == sync["salesforce"]["calls"]
    assert sb.stats()["hubspot"]["total"] == sync["hubspot"]["calls"]


def test_a_remapped_field_is_not_read_by_the_sync(world):
    """The sync only reads values under the mapping the write-back last read in full (whose
    fields are known to exist); a changed mapping waits for the write-back's own full read."""
    project = world["project"]
    cfg = project.config
    with project.store(read_only=True) as store:
        riders = values_riders(store, cfg.sources, cfg.writeback)
        assert set(riders) == {"salesforce", "hubspot"}
        saved = json.loads(store.get_cursor("salesforce", CURSOR_STREAM))
        assert riders["salesforce"].since == saved["since"]
        remapped = cfg.writeback.model_copy(deep=True)
        remapped.salesforce.fields["health_band"] = "Other_Band__c"
        assert set(values_riders(store, cfg.sources, remapped)) == {"hubspot"}


def test_a_field_deleted_in_salesforce_is_recreated_by_the_same_run(world, caplog):
    """create_missing_fields = true: the sync reads its accounts without the write-back
    fields, so the write-back sets up (recreates the field) and reads in full itself."""
    sb = world["sb"]
    sf = sb.emulator("salesforce")
    sf.schemas["Account"].pop("NRR_Health_Band__c")
    healed = _run(world)
    assert healed.status == "ok", [(s.name, s.message) for s in healed.steps]
    assert "reading accounts without the write-back fields" in caplog.text
    assert "NRR_Health_Band__c" in sf.schemas["Account"]
    accounts = _step(healed, "writeback").counts["salesforce"]["read"]
    with world["project"].store(read_only=True) as store:   # a new field: a full read of every live Account
        assert accounts == store.con.execute("SELECT count(*) FROM accounts WHERE source = 'salesforce' "
                                             "AND NOT deleted").fetchone()[0]


def test_a_field_deleted_in_salesforce_fails_the_writeback_not_the_sync(world):
    """Without create_missing_fields the write-back refuses before writing, and forgets its
    read cursor so that the run after the field is back reads in full again."""
    sb, project = world["sb"], world["project"]
    text = (project.dir / CONFIG_FILE).read_text()
    (project.dir / CONFIG_FILE).write_text(text.replace("create_missing_fields = true", "create_missing_fields = false"))
    sf = sb.emulator("salesforce")
    field = sf.schemas["Account"].pop("NRR_Health_Band__c")
    try:
        broken = run_pipeline(ProjectContext(project.dir), pipeline_steps(STEPS), as_of=world["book"].as_of)
        sync, wb = _step(broken, "sync"), _step(broken, "writeback")
        assert sync.status == "ok" and sync.counts["salesforce"]["ok"], sync.message
        assert wb.status == "failed" and "NRR_Health_Band__c (health_band) does not exist" in wb.message
        assert wb.counts["hubspot"]["failed"] == 0   # the other CRM is written as usual
        with project.store(read_only=True) as store:
            assert store.get_cursor("salesforce", CURSOR_STREAM) is None
    finally:
        sf.schemas["Account"]["NRR_Health_Band__c"] = field
        (project.dir / CONFIG_FILE).write_text(text)
    again = _run(world)
    assert again.status == "ok", [(s.name, s.message) for s in again.steps]
    with project.store(read_only=True) as store:
        assert store.get_cursor("salesforce", CURSOR_STREAM) is not None


def test_the_sync_does_not_read_values_when_the_writeback_read_stopped_earlier(world):
    """A write-back read that stopped before where the sync starts (the write-back step was
    left out of runs, say) would leave a gap: the write-back reads from its own cursor."""
    from engine.store import Cursor

    project = world["project"]
    with project.store() as store:
        saved = json.loads(store.get_cursor("salesforce", CURSOR_STREAM))
        store.set_cursor(Cursor("salesforce", CURSOR_STREAM, json.dumps({**saved, "since": "2001-01-01T00:00:00Z"})))
        live = store.con.execute("SELECT count(*) FROM accounts WHERE source = 'salesforce' AND NOT deleted").fetchone()[0]
    run = _run(world)
    assert run.status == "ok", [(s.name, s.message) for s in run.steps]
    # every Account modified since 2001 (all of them) read by the write-back itself
    assert _step(run, "writeback").counts["salesforce"]["read"] == live
    with project.store(read_only=True) as store:
        assert json.loads(store.get_cursor("salesforce", CURSOR_STREAM))["since"] > "2001-01-01T00:00:00Z"


def test_the_renewals_step_reuses_the_triggers_steps_metrics(world, monkeypatch):
    """One pass over usage, tickets and invoices per run: the renewal R/A/G reads the
    metrics the triggers step computed, and they are what it would compute itself."""
    import engine.renewals
    import engine.triggers
    from engine.triggers.features import compute_features

    calls = []

    def counted(*args, **kwargs):
        calls.append(1)
        return compute_features(*args, **kwargs)

    monkeypatch.setattr(engine.triggers, "compute_features", counted)
    monkeypatch.setattr(engine.renewals, "compute_features", counted)
    report = run_pipeline(world["project"], pipeline_steps(["score", "triggers", "renewals"]), as_of=world["book"].as_of)
    assert report.status == "ok", [(s.name, s.message) for s in report.steps]
    assert len(calls) == 1
    from nrr.commands.triggers import project_timeline

    with world["project"].store(read_only=True) as store:   # computed apart: the same timeline
        alone = project_timeline(world["project"], store, world["book"].as_of, world["project"].config.run.renewal_days)
    assert len(calls) == 2
    shared = _step(report, "renewals").counts
    assert shared["renewals"] == len(alone.renewals)
    assert {k: v for k, v in shared.items() if k != "renewals"} == alone.renewals["rag"].value_counts().to_dict()


def test_each_run_is_one_row_in_the_run_log(world):
    """The sync step's outcome is in its run's row; it adds no row of its own."""
    from nrr.pipeline import recent_runs

    with world["project"].store(read_only=True) as store:
        before = recent_runs(store, limit=100)
    report = _run(world)
    with world["project"].store(read_only=True) as store:
        after = recent_runs(store, limit=100)
    assert len(after) == len(before) + 1
    mine = next(r for r in after if r["run_id"] == report.run_id)
    assert mine["steps"]["sync"] == "ok"
    assert all(r["command"] != "sync" for r in after)


def test_a_hubspot_pass_resumed_midway_leaves_the_read_to_the_writeback(world):
    """A companies pass cut short last time resumes above its id floor: it does not see the
    companies below it, so the write-back reads every modified company itself."""
    from engine.store import Cursor

    project = world["project"]
    with project.store() as store:
        ids = [r[0] for r in store.con.execute("SELECT source_id FROM accounts WHERE source = 'hubspot' AND NOT deleted "
                                               "ORDER BY CAST(source_id AS BIGINT)").fetchall()]
        saved = json.loads(store.get_cursor("hubspot", "companies"))
        floor = int(ids[len(ids) // 2])   # half the companies lie below the floor
        store.set_cursor(Cursor("hubspot", "companies", json.dumps({"since": saved["since"], "floor": floor,
                                                                     "high": saved["since"]})))
        # the companies this module's write-backs modified (every scored one), all within the lookback;
        # the others still carry the book's old modification dates
        written = store.con.execute(
            "SELECT count(*) FROM score_snapshots s JOIN accounts a USING (account_id) WHERE s.day = ? "
            "AND a.source = 'hubspot' AND NOT a.deleted AND s.score IS NOT NULL", [world["book"].as_of]).fetchone()[0]
    run = _run(world)
    assert run.status == "ok", [(s.name, s.message) for s in run.steps]
    assert _step(run, "writeback").counts["hubspot"]["read"] == written
