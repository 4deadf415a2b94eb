#!/usr/bin/env python3
"""Write the bundled sample book (``nrr/sample/``) in the file-import schema.

    .venv/bin/python scripts/make_sample.py [--out nrr/sample]

About 60 accounts, fixed seed and as_of (2026-11-15), three years of contracts with
expansions, contractions, churn and reactivations, plus invoices, tickets, NPS, churn
reasons and 180 days of usage (Parquet). Every fourth contract row gives
``amount,interval`` with ``mrr`` empty, to exercise that import path.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import pandas as pd  # noqa: E402

from connectors.sandbox.book import Book, generate_book  # noqa: E402

ACCOUNTS, SEED, AS_OF, USAGE_DAYS = 60, 6, dt.date(2026, 11, 15), 180
CSV_KINDS = ("accounts", "contracts", "invoices", "tickets", "nps", "churn_reasons")
NEEDED_CHANGES = {"new", "renewal", "upsell", "downgrade", "reactivation"}


def contracts_frame(book: Book) -> pd.DataFrame:
    """Canonical contract lines; every fourth row as amount per interval instead of mrr."""
    lines = book.canonical("contracts").to_pandas()
    interval = book.contracts.set_index("contract_id")["interval"]
    base_id = lines["contract_id"].str.removesuffix("-R")
    lines["interval"] = base_id.map(interval)
    per = lines["interval"].map({"month": 1, "year": 12})
    use_amount = (pd.Series(range(len(lines)), index=lines.index) % 4) == 3
    lines["amount"] = [m * p if flag else None for m, p, flag in zip(lines["mrr"], per, use_amount)]
    lines["interval"] = lines["interval"].where(use_amount, None)
    lines["mrr"] = lines["mrr"].where(~use_amount, None)
    return lines


def check(book: Book) -> None:
    """The sample must show every movement type; fail loudly if a seed change loses one."""
    missing = NEEDED_CHANGES - set(book.contracts["change"])
    if missing or book.churn_reasons.empty:
        raise SystemExit(f"sample book (seed {SEED}) lacks {sorted(missing) or 'churn'}; pick another seed")


def write_sample(out: Path) -> dict[str, int]:
    book = generate_book(ACCOUNTS, seed=SEED, as_of=AS_OF)
    check(book)
    out.mkdir(parents=True, exist_ok=True)
    written = {}
    for kind in CSV_KINDS:
        frame = contracts_frame(book) if kind == "contracts" else book.canonical(kind).to_pandas()
        frame = frame.map(lambda v: format(v, "f") if isinstance(v, Decimal) else v)
        frame.to_csv(out / f"{kind}.csv", index=False)
        written[kind] = len(frame)
    written["usage"] = book.write_usage(out / "usage.parquet", fmt="parquet", days=USAGE_DAYS)
    return written


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "nrr" / "sample")
    args = ap.parse_args()
    for kind, rows in write_sample(args.out).items():
        print(f"{kind}: {rows} rows")


if __name__ == "__main__":
    main()
