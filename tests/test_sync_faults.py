"""Every sandbox fault is survived, a spent quota stops cleanly and resumes, and a sync
killed with SIGKILL mid-way resumes to exactly the store a clean sync produces."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from connectors.sandbox.faults import FaultConfig
from engine.store import Store
from test_sync_sandbox import SOURCES, baseline, book, config, quiet_sandbox, snapshot, sync  # noqa: F401

REPO = Path(__file__).resolve().parent.parent

FAULTS = {
    "rate_limit": FaultConfig(after=3, rate_limit_burst=3),
    "server_error": FaultConfig(after=3, server_error_burst=3),
    "connection_reset": FaultConfig(after=3, reset_burst=2),
    "malformed_json": FaultConfig(after=3, malformed_burst=2),
    "slow_response": FaultConfig(after=3, slow_burst=1, slow_seconds=3.0),  # the sync's timeout is 2 s
}


@pytest.fixture
def faults(quiet_sandbox):
    def apply(config: FaultConfig, names=SOURCES):
        for name in names:
            quiet_sandbox.set_faults(name, config)
    yield apply
    apply(FaultConfig())


@pytest.mark.parametrize("kind", list(FAULTS))
def test_fault_is_retried_and_the_store_ends_equal_to_the_source(kind, quiet_sandbox, baseline, faults, tmp_path):
    faults(FAULTS[kind])
    with Store(tmp_path / "s.duckdb") as store:
        report = sync(quiet_sandbox, store, tmp_path)
        assert report.ok, report.to_dict()
        assert snapshot(store) == baseline["all"]
    assert {s: report.sources[s].retries >= 1 for s in SOURCES} == {s: True for s in SOURCES}


def test_expired_salesforce_session_logs_in_again(quiet_sandbox, baseline, faults, tmp_path):
    faults(FaultConfig(after=2, session_expiry_burst=1), names=("salesforce",))
    quiet_sandbox.clear_stats()
    with Store(tmp_path / "s.duckdb") as store:
        report = sync(quiet_sandbox, store, tmp_path, only="salesforce")
        assert report.ok, report.to_dict()
        assert snapshot(store, "salesforce") == baseline["salesforce"]
    # first login + re-login; simple-salesforce renews a password session itself, once per stream
    # that met the expiry (the three stage-1 streams read concurrently), before our policy would
    assert 2 <= quiet_sandbox.stats()["salesforce"]["endpoints"]["POST /services/Soap/u"] <= 4


def test_spent_daily_quota_stops_cleanly_then_resumes(quiet_sandbox, baseline, faults, tmp_path):
    faults(FaultConfig(request_budget=4))
    with Store(tmp_path / "s.duckdb") as store:
        first = sync(quiet_sandbox, store, tmp_path)
        kept = snapshot(store)
        faults(FaultConfig())
        second = sync(quiet_sandbox, store, tmp_path)
        assert snapshot(store) == baseline["all"]
    for name in SOURCES:
        res = first.sources[name]
        assert not res.ok and "resumes where it stopped" in res.error and res.resume_at, (name, res)
    ids = lambda rows: {r[:3] for r in rows}  # noqa: E731 - (table, source, source_id)
    assert kept and ids(kept) < ids(baseline["all"])  # what was synced before the quota ran out is kept
    assert second.ok


KILLED_SYNC = """
import json, logging, sys
from connectors.retry import RetryPolicy
from connectors.sync import sync_sources
from engine.store import Store
logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
cfg, creds, store_path, project = json.loads(sys.argv[1])
with Store(store_path) as store:
    sync_sources(store, cfg, creds, progress=False, project_dir=project, policy=RetryPolicy(sleep=lambda s: None))
print("finished", file=sys.stderr, flush=True)
"""


def small_pages(sb):
    return config(sb, hubspot={"page_size": 10}, stripe={"page_size": 10})


def test_kill_9_mid_sync_then_resume_gives_exactly_the_source(quiet_sandbox, baseline, faults, tmp_path):
    faults(FaultConfig(latency_ms=15))
    store_path = tmp_path / "s.duckdb"
    args = json.dumps([small_pages(quiet_sandbox), quiet_sandbox.credentials, str(store_path), str(tmp_path)])
    proc = subprocess.Popen([sys.executable, "-c", KILLED_SYNC, args], cwd=REPO, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)})
    committed = 0
    try:
        for line in proc.stderr:
            committed += ": committed " in line   # one line per store commit (a page, or pages folded)
            if committed == 14:  # some way into HubSpot's or Stripe's pages
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "the sync finished before it could be killed"
    faults(FaultConfig())
    with Store(store_path) as store:
        partial = snapshot(store)
        report = sync_resume(quiet_sandbox, store, tmp_path)
        assert report.ok, report.to_dict()
        assert snapshot(store) == baseline["all"]
    assert 0 < len(partial) < len(baseline["all"])


def sync_resume(sb, store, tmp):
    from connectors.sync import sync_sources
    from test_sync_sandbox import NO_WAIT

    return sync_sources(store, small_pages(sb), sb.credentials, progress=False, project_dir=tmp, policy=NO_WAIT)


def test_quota_spent_inside_windowed_listings_resumes_every_window(quiet_sandbox, baseline, faults, tmp_path):
    import time

    small = {"page_size": 10, "parallel_listings": 3}
    with Store(tmp_path / "s.duckdb") as store:
        assert sync(quiet_sandbox, store, tmp_path, only="salesforce").ok   # the accounts Stripe links to
        # Stripe's budget: anchor + 4 customer pages + 7 requests into the six invoice windows
        time.sleep(1.1)   # a fresh second for the emulator's 25 / s window (the tests' retries do not wait)
        faults(FaultConfig(request_budget=12), names=("stripe",))
        first = sync(quiet_sandbox, store, tmp_path, only="stripe", stripe=small)
        cursor = json.loads(store.get_cursor("stripe", "invoices"))
        faults(FaultConfig(), names=("stripe",))
        time.sleep(1.1)
        second = sync(quiet_sandbox, store, tmp_path, only="stripe", stripe=small)
        assert snapshot(store, "stripe") == baseline["stripe"]
    assert not first.sources["stripe"].ok and "resumes where it stopped" in first.sources["stripe"].error
    # stopped inside the windowed listing: some windows done or part-read, their positions kept
    assert len(cursor["windows"]) == 6 and not all(w.get("done") for w in cursor["windows"])
    assert any(w.get("after") or w.get("done") for w in cursor["windows"])
    assert second.ok
