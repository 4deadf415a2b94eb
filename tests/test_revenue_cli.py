"""`nrr metrics` and `nrr cohorts` on the demo project, checked against the sample's contract lines."""

from __future__ import annotations

import csv
import datetime as dt
import json
from decimal import ROUND_HALF_UP, Decimal
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.revenue import Period, monthly_amount
from nrr import config as config_mod
from nrr.cli import cli
from nrr.project import copy_sample
from test_revenue_support import oracle_ttm, oracle_waterfall

CENT, FOURTH = Decimal("0.01"), Decimal("0.0001")


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """A project with the bundled sample book imported (what `nrr demo` builds)."""
    directory = tmp_path_factory.mktemp("revenue-demo") / "demo"
    data = copy_sample(directory / "data")
    for args in (["init", str(directory)], ["--project", str(directory), "import", str(data)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
    return directory


def sample_lines() -> list[dict]:
    """The bundled contracts.csv read directly: mrr, or amount ÷ interval kept to 6 decimals."""
    text = resources.files("nrr").joinpath("sample", "contracts.csv").read_text()
    out = []
    for row in csv.DictReader(text.splitlines()):
        mrr = Decimal(row["mrr"]) if row["mrr"] else monthly_amount(Decimal(row["amount"]), row["interval"])
        out.append({"account_id": row["account_id"], "currency": row["currency"],
                    "start_date": dt.date.fromisoformat(row["start_date"]),
                    "end_date": dt.date.fromisoformat(row["end_date"]) if row["end_date"] else None,
                    "mrr": mrr.quantize(Decimal("0.000001"))})
    return out


def run(demo: Path, *args: str):
    return CliRunner().invoke(cli, ["--project", str(demo), *args])


def test_metrics_json_matches_the_sample_contract_lines(demo):
    result = run(demo, "metrics", "--period", "2026-Q3", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.output, parse_float=Decimal)
    rates = config_mod.load(demo / "nrr.toml").revenue.fx_rates
    period = Period.parse("2026-Q3")
    want = oracle_waterfall(sample_lines(), period, rates)
    printed = {k: Decimal(str(v)) for k, v in got["waterfall"].items()}
    # start and end are the oracle's exact values rounded half-up to cents; each movement is
    # within one cent of its exact value (a cent may move between movements so that the
    # printed waterfall adds up), and the identity holds on the printed numbers.
    for key in ("start", "end"):
        assert printed[key] == want[key].quantize(CENT, ROUND_HALF_UP)
    for key in ("new", "expansion", "contraction", "churn", "reactivation"):
        assert abs(printed[key] - want[key]) < CENT, key
    assert (printed["start"] + printed["new"] + printed["reactivation"] + printed["expansion"]
            - printed["contraction"] - printed["churn"]) == printed["end"]
    base, now, floor, n_base, n_kept = oracle_ttm(sample_lines(), period, rates)
    assert got["nrr_ttm"] == (now / base).quantize(FOURTH, ROUND_HALF_UP)
    assert got["grr_ttm"] == (floor / base).quantize(FOURTH, ROUND_HALF_UP)
    assert got["logo_retention_ttm"] == (Decimal(n_kept) / n_base).quantize(FOURTH, ROUND_HALF_UP)
    assert Decimal(str(got["arr_end"])) == (12 * want["end"]).quantize(CENT, ROUND_HALF_UP)
    assert got["period"] == "2026-Q3" and got["currency"] == "USD" and got["by"] == {}


def test_metrics_by_segment_adds_up(demo):
    result = run(demo, "metrics", "--period", "2026-Q3", "--by", "segment", "--json")
    assert result.exit_code == 0, result.output
    got = json.loads(result.output, parse_float=Decimal)
    assert set(got["by"]) <= {"self-serve", "smb", "mid-market", "enterprise", "unassigned"}
    for key in ("start", "end"):
        assert abs(sum(Decimal(str(g["waterfall"][key])) for g in got["by"].values()) - got["waterfall"][key]) <= (
            len(got["by"]) * Decimal("0.005"))
    assert sum(g["accounts"]["end"] for g in got["by"].values()) == got["accounts"]["end"]


def test_metrics_table_and_cohorts(demo):
    table = run(demo, "metrics", "--period", "2026-Q3")
    assert table.exit_code == 0 and "NRR (TTM)" in table.output and "Revenue 2026-Q3 (USD)" in table.output
    cohorts = run(demo, "cohorts", "--grain", "quarter", "--as-of", "2026-09-30", "--json")
    assert cohorts.exit_code == 0, cohorts.output
    data = json.loads(cohorts.output)
    assert data["grain"] == "quarter" and data["as_of"] == "2026-09-30"
    assert all(c["nrr"][0] == 1 and c["logo_retention"][0] == 1 for c in data["cohorts"])
    assert run(demo, "cohorts", "--as-of", "2026-09-30").exit_code == 0


def test_bad_period_is_a_usage_error(demo):
    result = run(demo, "metrics", "--period", "2026-Q7")
    assert result.exit_code == 2 and "2026-Q3" in result.output


def test_missing_fx_rate_is_one_clear_line(demo, tmp_path):
    # Drop the EUR rate from a copy of the project: the CLI names a contract and the fix.
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / ".nrr").mkdir()
    (copy / ".nrr" / "nrr.duckdb").write_bytes((demo / ".nrr" / "nrr.duckdb").read_bytes())
    toml = (demo / "nrr.toml").read_text()
    (copy / "nrr.toml").write_text("\n".join(ln for ln in toml.splitlines() if not ln.strip().startswith("EUR")))
    result = CliRunner().invoke(cli, ["--project", str(copy), "metrics", "--period", "2026-Q3"])
    assert result.exit_code == 1
    assert "currency EUR has no FX rate" in result.output and "[revenue.fx_rates]" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["metrics", "cohorts"])
def test_help(command):
    result = CliRunner().invoke(cli, [command, "--help"])
    assert result.exit_code == 0 and "Example" in result.output
