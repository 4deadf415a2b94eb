#!/usr/bin/env python
"""Write-back benchmark: N changed accounts → ceil(N/200) Salesforce and ceil(N/100) HubSpot calls.

    .venv/bin/python scripts/bench_writeback.py --accounts 10000

Starts the Salesforce and HubSpot sandbox emulators for a generated book, creates the
health fields, stores the CRM account records, then times read → plan → apply for a
desired value on every account, counts the write requests the emulators received, and
applies the same values again (expected: zero requests). Exits 1 when a count is off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.crm_setup import open_crm, setup  # noqa: E402
from connectors.retry import RetryPolicy  # noqa: E402
from connectors.sandbox.app import Sandbox  # noqa: E402
from connectors.sandbox.book import generate_book  # noqa: E402
from connectors.sandbox.hs_book import hubspot_id  # noqa: E402
from connectors.sandbox.sf_schema import id_for_key  # noqa: E402
from connectors.writeback import apply, plan, read_current  # noqa: E402
from connectors.writeback_settings import WritebackSettings  # noqa: E402
from engine.account_fields import COLUMNS  # noqa: E402
from engine.store import Store  # noqa: E402

WRITES = {"salesforce": "PATCH /services/data/composite/sobjects",
          "hubspot": "POST /crm/v3/objects/companies/batch/update"}
BATCH = {"salesforce": 200, "hubspot": 100}


def store_accounts(store: Store, ids: list[str]) -> None:
    store.upsert("accounts", "salesforce", pd.DataFrame({"account_id": ids, "name": ids,
                                                         "source_id": [id_for_key("Account", k) for k in ids]}))
    store.upsert("accounts", "hubspot", pd.DataFrame({"account_id": ids, "name": ids,
                                                      "source_id": [str(hubspot_id("companies", k)) for k in ids]}))


def desired(ids: list[str]) -> pd.DataFrame:
    """Every account gets a value it does not have yet (score 40.0–89.9, a band, a renewal)."""
    n = len(ids)
    frame = pd.DataFrame({"account_id": ids, "health_score": [40 + (i % 500) / 10 for i in range(n)],
                          "health_band": "At risk", "renewal_rag": "amber", "renewal_date": dt.date(2027, 3, 31),
                          "open_risk_triggers": [i % 3 for i in range(n)],
                          "last_computed_at": dt.datetime(2026, 11, 15, 6, 0)})
    return frame.reindex(columns=COLUMNS).astype(object).where(lambda f: f.notna(), None)


def one_target(sb: Sandbox, store: Store, name: str, settings: WritebackSettings, want: pd.DataFrame) -> dict:
    # lookback 0: the emulators' clock is this machine's, and the bench runs in seconds, not days
    cfg = {n: {"enabled": True, "base_url": sb.urls[n], "ca_bundle": str(sb.ca_path), "timeout_seconds": 60.0,
               "lookback_minutes": 0} for n in sb.urls}
    crm = open_crm(name, cfg, settings, sb.credentials[name], RetryPolicy())
    target = settings.target(name)
    setup(crm, target, settings.text_length)
    t0 = time.perf_counter()
    read = read_current(store, crm, target)
    t1 = time.perf_counter()
    the_plan = plan(store, name, target, want)
    t2 = time.perf_counter()
    sb.clear_stats()
    result = apply(store, crm, target, the_plan, "bench-1")
    t3 = time.perf_counter()
    writes = sb.stats()[name]["endpoints"].get(WRITES[name], 0)
    sb.clear_stats()
    again = apply(store, crm, target, plan(store, name, target, want), "bench-2")
    second = sb.stats()[name]["total"]
    reread = read_current(store, crm, target)   # the records we wrote changed in the CRM: read once more
    t4 = time.perf_counter()   # a warm daily pass with nothing changed: incremental read + plan + apply
    read_current(store, crm, target)
    apply(store, crm, target, plan(store, name, target, want), "bench-3")
    warm = time.perf_counter() - t4
    crm.close()
    records = len(the_plan.records())
    return {"records_changed": records, "write_calls": writes, "expected_calls": math.ceil(records / BATCH[name]),
            "records_written": result.records_written, "records_failed": result.records_failed,
            "second_apply_requests": second, "second_apply_changes": again.records_written,
            "read_records": read, "reread_after_write": reread, "read_s": round(t1 - t0, 2), "plan_s": round(t2 - t1, 2),
            "apply_s": round(t3 - t2, 2), "warm_unchanged_pass_s": round(warm, 2)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=10_000, help="changed accounts to write")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    t = time.perf_counter()
    # the book marks ~0.5% of accounts deleted: generate a few more and change exactly --accounts
    book = generate_book(accounts=args.accounts + args.accounts // 50 + 10, seed=args.seed)
    ids = list(book.accounts.loc[~book.accounts["deleted"].astype(bool), "account_id"])[:args.accounts]
    print(f"book: {len(ids):,} live accounts in {time.perf_counter() - t:.1f}s", file=sys.stderr)
    figures, ok = {}, True
    with Sandbox(book, emulators=("salesforce", "hubspot")) as sb, tempfile.TemporaryDirectory() as tmp:
        with Store(Path(tmp) / "bench.duckdb") as store:
            store_accounts(store, ids)
            want = desired(ids)
            for name in ("salesforce", "hubspot"):
                figures[name] = f = one_target(sb, store, name, WritebackSettings(), want)
                ok &= f["write_calls"] == f["expected_calls"] and f["second_apply_requests"] == 0
    print(json.dumps({"accounts": len(ids), **figures}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
