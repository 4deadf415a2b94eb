"""Folding queued pages into one commit (Batch.absorb) must end in the same store as
committing them one by one — or refuse to fold."""

from __future__ import annotations

import datetime as dt

import pytest

from connectors.batch import Batch
from connectors.sync import commit_batch
from engine.store import Store


def line(source_id: str, mrr: str = "100") -> dict:
    return {"source_id": source_id, "contract_id": source_id.split("/")[0], "account_id": "A1", "product": "core",
            "start_date": dt.date(2026, 1, 1), "end_date": None, "mrr": mrr, "currency": "USD",
            "quantity": None, "status": "active", "auto_renew": True}


def page(rows=(), deletes=(), replace=(), cursor="c", patches=None) -> Batch:
    b = Batch(cursor=cursor, read=len(rows) + len(deletes))
    if rows:
        b.rows["contracts"] = [line(*r) if isinstance(r, tuple) else line(r) for r in rows]
    if deletes:
        b.deletes["contracts"] = list(deletes)
    if replace:
        b.replace["contracts"] = list(replace)
    if patches:
        b.patches["contracts"] = patches
    return b


def state(store: Store) -> list[tuple]:
    return store.con.execute(
        "SELECT source_id, CAST(mrr AS VARCHAR), deleted FROM contract_lines ORDER BY source_id").fetchall() + \
        store.con.execute("SELECT stream, cursor FROM sync_state").fetchall()


SEED = [line("s1/a"), line("s1/b"), line("s2/a"), line("s3/a")]


def run(tmp_path, name: str, pages: list, fold: bool) -> tuple[list[tuple], list[bool]]:
    folded = []
    with Store(tmp_path / f"{name}.duckdb") as store:
        commit_batch(store, "stripe", "subscriptions", page(rows=[r["source_id"] for r in SEED], cursor="seed"))
        if not fold:
            for p in pages():
                commit_batch(store, "stripe", "subscriptions", p)
        else:
            acc = None
            for p in pages():
                if acc is not None and acc.absorb(p):
                    folded.append(True)
                    continue
                if acc is not None:
                    folded.append(False)
                    commit_batch(store, "stripe", "subscriptions", acc)
                acc = p
            commit_batch(store, "stripe", "subscriptions", acc)
        return state(store), folded


CASES = {
    # disjoint pages fold: new rows, a changed row, a delete  → one commit
    "disjoint": (lambda: [page(rows=["s4/a"], cursor="1"), page(rows=[("s2/a", "250")], cursor="2"),
                          page(deletes=["s3/a"], cursor="3")], [True, True]),
    # a page re-adding what the page before deleted must not fold (a fold would upsert, then delete)
    "delete then re-add": (lambda: [page(deletes=["s3/a"], cursor="1"), page(rows=[("s3/a", "90")], cursor="2")],
                           [False]),
    # a page re-reading subscription s1 whole (replace "s1/") after a page that wrote s1/c:
    # one by one, s1/c is removed by the second page; folded, it would survive
    "replace after child": (lambda: [page(rows=["s1/c"], cursor="1"),
                                     page(rows=["s1/a"], replace=["s1/"], cursor="2")], [False]),
    # replace of another parent folds
    "replace elsewhere": (lambda: [page(rows=["s1/c"], cursor="1"),
                                   page(rows=[("s2/b", "40")], replace=["s2/"], cursor="2")], [True]),
    # patches read the stored rows, so a page with patches never folds into an earlier one
    "patches": (lambda: [page(rows=["s4/a"], cursor="1"), page(patches={"s1/a": {"mrr": "7"}}, cursor="2")], [False]),
}


@pytest.mark.parametrize("case", CASES)
def test_folded_commits_equal_one_by_one(tmp_path, case):
    pages, expected_folds = CASES[case]
    one_by_one, _ = run(tmp_path, "seq", pages, fold=False)
    folded, folds = run(tmp_path, "fold", pages, fold=True)
    assert folds == expected_folds
    assert folded == one_by_one
    # the cursor stored is the last page's, whichever way the pages were committed
    assert ("subscriptions", str(len(pages()))) in folded


def test_replace_after_child_one_by_one_removes_the_child(tmp_path):
    # what the refusal protects, computed by hand: s1/a and s1/b seeded, page 1 adds s1/c,
    # page 2 re-reads s1 whole and finds only s1/a → s1/b and s1/c end deleted
    rows, _ = run(tmp_path, "seq", CASES["replace after child"][0], fold=False)
    deleted = {sid for sid, _, gone in rows[:-1] if gone}
    assert deleted == {"s1/b", "s1/c"}
