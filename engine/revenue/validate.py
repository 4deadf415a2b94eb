"""Checking contract lines before any figure is computed.

A line is rejected when it has no id, account, start date or MRR; when its end date is
before its start date; when its MRR is negative; or when its currency has no FX rate
(constant-currency reporting: a missing rate is an error, never a zero). The check runs
as one query over the lines and raises :class:`RevenueDataError` naming the first bad
contract (ordered by id, so the message is stable) and how many more there are.
"""

from __future__ import annotations

import ibis

from engine.revenue.errors import RevenueDataError
from engine.settings import RevenueSettings

_SHOWN = 3


def known_currencies(settings: RevenueSettings) -> list[str]:
    """The reporting currency plus every currency with a configured fixed rate."""
    return sorted({settings.reporting_currency, *settings.fx_rates})


def _problem(t: ibis.Table, currencies: list[str]) -> ibis.Value:
    """A description of what is wrong with a line, or NULL when the line is usable."""
    return ibis.cases(
        (t.contract_id.isnull() | (t.contract_id == ""), "has no contract_id"),
        (t.account_id.isnull() | (t.account_id == ""), "has no account_id"),
        (t.start_date.isnull(), "has no start_date"),
        (t.mrr.isnull(), "has no mrr"),
        (t.end_date.notnull() & (t.end_date < t.start_date), "ends before it starts"),
        (t.mrr < 0, "has a negative mrr"),
        (t.currency.isnull() | ~t.currency.upper().isin(currencies), "has a currency without an FX rate"),
        else_=ibis.null("string"),
    )


def _describe(row: dict, settings: RevenueSettings) -> str:
    who = f"contract line {row['contract_id'] or '(no id)'} (account {row['account_id'] or '(none)'})"
    problem = row["problem"]
    if problem == "ends before it starts":
        return f"{who}: end_date {row['end_date']} is before start_date {row['start_date']}; fix the dates at the source"
    if problem == "has a negative mrr":
        return f"{who}: mrr {row['mrr']} is negative; credits and discounts must reduce a line's mrr, not go below zero"
    if problem == "has a currency without an FX rate":
        code = (row["currency"] or "").upper() or "(empty)"
        return (
            f"{who}: currency {code} has no FX rate; add {code} = <{settings.reporting_currency} per {code}> "
            f"under [revenue.fx_rates] in nrr.toml"
        )
    return f"{who} {problem}; it is a required field of a contract line"


def check_contract_lines(contracts: ibis.Table, settings: RevenueSettings) -> None:
    """Raise :class:`RevenueDataError` if any contract line is unusable; return None otherwise."""
    t = contracts.mutate(problem=_problem(contracts, known_currencies(settings)))
    bad = t.filter(t.problem.notnull())
    cols = ["contract_id", "account_id", "start_date", "end_date", "mrr", "currency", "problem"]
    first = bad.select(*cols).order_by([bad.contract_id, bad.start_date]).limit(_SHOWN).to_pyarrow().to_pylist()
    if not first:
        return
    total = int(bad.count().to_pyarrow().as_py())
    lines = [_describe(row, settings) for row in first]
    more = f" (and {total - len(first)} more bad lines)" if total > len(first) else ""
    message = f"{total} unusable contract line(s); no revenue figures were computed: " + "; ".join(lines) + more
    raise RevenueDataError(message, contract_id=first[0]["contract_id"], bad_lines=total)
