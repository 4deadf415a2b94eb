"""`nrr run` framework: lock contention, crashed holders, step isolation, exit codes, run log."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from nrr.errors import ConfigError
from nrr.pipeline import recent_runs, run_pipeline
from nrr.project import ProjectContext, init_project
from nrr.runlock import RunLock, RunLocked

AS_OF = dt.date(2026, 11, 2)


@pytest.fixture
def project(tmp_path):
    init_project(tmp_path)
    return ProjectContext(tmp_path)


def test_steps_run_in_order_and_failures_do_not_stop_the_run(project):
    seen = []

    def ok(state):
        seen.append("ok")
        return {"accounts": 3}

    def boom(state):
        seen.append("boom")
        raise RuntimeError("CRM unreachable")

    def after(state):
        seen.append("after")
        return {}

    report = run_pipeline(project, [("sync", ok), ("score", boom), ("reports", after)], as_of=AS_OF)
    assert seen == ["ok", "boom", "after"]
    assert [s.status for s in report.steps] == ["ok", "failed", "ok"]
    assert report.exit_code == 1 and "CRM unreachable" in report.steps[1].message
    with project.store() as store:
        (run,) = recent_runs(store)
    assert run["status"] == "failed" and run["steps"] == {"sync": "ok", "score": "failed", "reports": "ok"}
    assert run["failed"] == ["score: RuntimeError: CRM unreachable"]


def test_config_error_gives_exit_code_2(project):
    def bad(state):
        raise ConfigError("credentials.toml: stripe.api_key refers to environment variable X, which is not set")

    report = run_pipeline(project, [("sync", bad)], as_of=AS_OF)
    assert report.exit_code == 2


def test_all_ok_is_exit_0(project):
    report = run_pipeline(project, [("sync", lambda s: {"n": 1})], as_of=AS_OF)
    assert report.exit_code == 0 and report.steps[0].counts == {"n": 1}


HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from nrr.runlock import RunLock
    with RunLock(Path(sys.argv[1]), "run-holder", "2026-11-02T06:00:00"):
        print("locked", flush=True)
        time.sleep(60)
    """
)


def _start_holder(state_dir):
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(state_dir)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_run_is_refused_naming_the_holder_and_a_killed_holder_frees_the_lock(project):
    holder = _start_holder(project.state_dir)
    try:
        with pytest.raises(RunLocked) as info:
            with RunLock(project.state_dir, "run-second", "now"):
                pass
        assert "run-holder" in str(info.value) and f"pid {holder.pid}" in str(info.value)
    finally:
        os.kill(holder.pid, signal.SIGKILL)  # a crash: no clean-up code runs
        holder.wait()
    with RunLock(project.state_dir, "run-third", "now"):  # the kernel released the lock
        pass
