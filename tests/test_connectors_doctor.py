"""`nrr doctor` explains each broken credential, scope or field precisely; the CLI
commands run end to end against the sandbox."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from connectors.doctor import doctor
from connectors.retry import RetryPolicy
from connectors.sandbox.app import Sandbox
from connectors.sandbox.book import generate_book

NO_WAIT = RetryPolicy(sleep=lambda s: None, max_attempts=3)


@pytest.fixture(scope="module")
def sb():
    with Sandbox(generate_book(accounts=15, seed=3)) as running:
        yield running


def sources(sb, **overrides):
    return {n: {"enabled": True, "base_url": sb.urls[n], "ca_bundle": str(sb.ca_path), **overrides.get(n, {})}
            for n in ("salesforce", "hubspot", "stripe")}


def failures(checks):
    return {(c.source, c.name): (c.detail, c.fix) for c in checks if not c.ok}


def test_healthy_sources_pass_every_check(sb):
    checks = doctor(sources(sb), sb.credentials, policy=NO_WAIT)
    assert failures(checks) == {}
    names = {(c.source, c.name) for c in checks}
    assert {("salesforce", "credentials"), ("salesforce", "fields Account"), ("salesforce", "API budget"),
            ("hubspot", "fields deals"), ("stripe", "read events")} <= names


def test_each_broken_thing_gets_its_exact_fix(sb):
    creds = {k: dict(v) for k, v in sb.credentials.items()}
    creds["salesforce"]["password"] = "wrong"
    creds["stripe"]["api_key"] = "sk_test_not_a_real_key_123"
    sb.emulator("hubspot").add_token("pat-na1-no-deals-scope", ["crm.objects.companies.read", "tickets",
                                                                 "crm.objects.contacts.read"])
    creds["hubspot"]["access_token"] = "pat-na1-no-deals-scope"
    fields = {"company": {"name": "name", "segment": "customer_segment_typo"}}
    found = failures(doctor(sources(sb, hubspot={"fields": fields}), creds, policy=NO_WAIT))
    assert set(found) == {("salesforce", "credentials"), ("stripe", "credentials"), ("hubspot", "object deals"),
                          ("hubspot", "fields companies")}
    assert "username, password and security_token" in found[("salesforce", "credentials")][1]
    assert "sk_" in found[("stripe", "credentials")][1]
    assert "crm.objects.deals.read" in found[("hubspot", "object deals")][1]
    detail, fix = found[("hubspot", "fields companies")]
    assert "customer_segment_typo" in detail and "[sources.hubspot.fields.company]" in fix


def test_missing_salesforce_field_and_write_back_field(sb):
    fields = {"case": {"created_at": "CreatedDate", "csat": "Survey_Score__c"}}
    checks = doctor(sources(sb, salesforce={"fields": fields}), sb.credentials, only="salesforce",
                    writeback_fields={"salesforce": ["Health_Score__c"]}, policy=NO_WAIT)
    found = failures(checks)
    assert set(found) == {("salesforce", "fields Case"), ("salesforce", "write-back fields")}
    assert "Survey_Score__c" in found[("salesforce", "fields Case")][0]
    assert "Health_Score__c" in found[("salesforce", "write-back fields")][0]


def test_cli_sync_doctor_and_unmatched(sb, tmp_path):
    from nrr.cli import cli

    toml = "".join(f'[sources.{n}]\nenabled = true\nbase_url = "{sb.urls[n]}"\nca_bundle = "{sb.ca_path}"\n\n'
                   for n in ("salesforce", "hubspot", "stripe"))
    (tmp_path / "nrr.toml").write_text(toml)
    (tmp_path / "credentials.toml").write_text("".join(
        f"[{n}]\n" + "".join(f'{k} = "{v}"\n' for k, v in c.items()) + "\n" for n, c in sb.credentials.items()))
    runner = CliRunner()
    first = runner.invoke(cli, ["-p", str(tmp_path), "sync", "--quiet"])
    assert first.exit_code == 0, first.output
    assert "customers" in first.output and "invoices" in first.output
    again = runner.invoke(cli, ["-p", str(tmp_path), "sync", "--source", "stripe", "--quiet"])
    assert again.exit_code == 0 and "events" in again.output
    # write-back is on by default for both CRMs: a fresh org lacks the health fields, and
    # doctor says how to add them; after `nrr crm setup` every check passes.
    doc = runner.invoke(cli, ["-p", str(tmp_path), "doctor"])
    assert doc.exit_code == 1 and "write-back fields" in doc.output and "nrr crm setup" in doc.output
    setup = runner.invoke(cli, ["-p", str(tmp_path), "crm", "setup"])
    assert setup.exit_code == 0, setup.output
    doc = runner.invoke(cli, ["-p", str(tmp_path), "doctor"])
    assert doc.exit_code == 0 and "FAIL" not in doc.output, doc.output
    unmatched = runner.invoke(cli, ["-p", str(tmp_path), "accounts", "unmatched"])
    assert unmatched.exit_code == 0
    from engine.store import Store

    with Store(tmp_path / ".nrr" / "nrr.duckdb", read_only=True) as store:
        runs = store.con.execute("SELECT status, summary FROM runs WHERE command = 'sync' ORDER BY started_at").fetchall()
    assert [r[0] for r in runs] == ["ok", "ok"]
    assert json.loads(runs[0][1])["sources"]["stripe"]["streams"]["customers"]["new"] > 0


@pytest.mark.parametrize("command", [["sync"], ["doctor"], ["accounts", "unmatched"]])
def test_commands_have_help(command):
    from nrr.cli import cli

    result = CliRunner().invoke(cli, [*command, "--help"])
    assert result.exit_code == 0 and len(result.output) > 100
