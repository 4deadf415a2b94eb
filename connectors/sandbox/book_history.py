"""Month-by-month simulation of every account's commercial history (vectorised).

Each account has a start month, an anchor day (all its contract events fall on that day
of the month), a billing interval and a latent health ``h`` (standard normal). Each
simulated month, over all accounts at once:

* annual accounts renew at each anniversary: churn with probability ``p_churn`` (higher at
  the first renewal and for low health), else renew flat, up or down; mid-term they may
  buy co-termed add-on seats;
* monthly accounts churn with a monthly hazard that is 3× higher in the first 6 months,
  and change seats up or down;
* churned accounts may come back (reactivation) after three months.

The simulation runs six months past ``as_of`` so accounts heading for churn already
show it in usage, tickets and NPS; nothing dated after ``as_of`` is published.
Output: ``History`` with contract lines (month indices; dates resolved later), churn
and reactivation events, and each account's future churn month (or −1).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.records import CHURN_REASON_CATEGORIES

#: per segment index (self-serve, smb, mid-market, enterprise)
RENEWAL_CHURN = np.array([0.22, 0.16, 0.085, 0.045])
RENEWAL_DOWN = np.array([0.06, 0.08, 0.10, 0.10])
RENEWAL_UP = np.array([0.15, 0.25, 0.35, 0.40])
MIDTERM_UP = np.array([0.004, 0.008, 0.025, 0.03])
MONTHLY_CHURN = np.array([0.022, 0.014, 0.010, 0.008])
MONTHLY_UP = np.array([0.03, 0.035, 0.03, 0.03])
MONTHLY_DOWN = np.array([0.012, 0.012, 0.01, 0.01])
REACTIVATE = 0.012
FUTURE_MONTHS = 6

#: churn reason weights per segment (rows) over CHURN_REASON_CATEGORIES (columns)
REASON_WEIGHTS = np.array([
    [0.10, 0.35, 0.05, 0.25, 0.15, 0.05, 0.05],
    [0.15, 0.30, 0.10, 0.15, 0.20, 0.05, 0.05],
    [0.25, 0.15, 0.20, 0.05, 0.25, 0.07, 0.03],
    [0.25, 0.10, 0.25, 0.02, 0.20, 0.15, 0.03],
])


@dataclass
class History:
    """Raw simulation output; all arrays are parallel per table."""

    months: int                 # simulated months (window + future)
    window: int                 # months up to and including as_of's month
    # lines: account, start month, end month (exclusive; -1 = open), seats, change code, run
    line_acct: np.ndarray
    line_start: np.ndarray
    line_end: np.ndarray
    line_qty: np.ndarray
    line_change: np.ndarray     # index into CHANGES
    line_run: np.ndarray
    churn_acct: np.ndarray
    churn_month: np.ndarray
    churn_reason: np.ndarray    # index into CHURN_REASON_CATEGORIES
    future_churn: np.ndarray    # per account: first churn month after the window, -1 none


CHANGES = np.array(["new", "renewal", "upsell", "downgrade", "reactivation"])
NEW, RENEWAL, UPSELL, DOWNGRADE, REACTIVATION = range(5)


class _Lines:
    """Append-only column buffers for emitted contract lines."""

    def __init__(self) -> None:
        self.cols: dict[str, list[np.ndarray]] = {k: [] for k in ("acct", "start", "end", "qty", "change", "run")}

    def add(self, acct, start, end, qty, change, run) -> None:
        n = len(acct)
        if n == 0:
            return
        for key, val in zip(self.cols, (acct, start, end, qty, change, run)):
            self.cols[key].append(np.broadcast_to(np.asarray(val, dtype=np.int64), (n,)).copy())

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: (np.concatenate(v) if v else np.zeros(0, np.int64)) for k, v in self.cols.items()}


def _risk(h: np.ndarray) -> np.ndarray:
    """Multiplier on churn hazards: ~2.2× for h = −1, ~0.45× for h = +1."""
    return np.exp(-0.8 * h)


def _seat_change(rng, qty: np.ndarray, up: bool) -> np.ndarray:
    """New seat count after an expansion (+8–30%, at least +1) or contraction (−10–35%)."""
    frac = rng.uniform(0.08, 0.30, len(qty)) if up else -rng.uniform(0.10, 0.35, len(qty))
    delta = np.maximum(1, np.abs(np.rint(qty * frac))).astype(np.int64)
    return qty + delta if up else np.maximum(1, qty - delta)


def simulate(rng, seg, start, annual, seats0, h, window: int) -> History:
    """Run the monthly simulation; see the module docstring."""
    n, months = len(seg), window + FUTURE_MONTHS
    lines = _Lines()
    alive = np.zeros(n, bool)
    qty = np.zeros(n, np.int64)
    term_start = np.zeros(n, np.int64)
    run_start = np.full(n, -1, np.int64)
    open_start = np.full(n, -1, np.int64)      # monthly accounts' open line
    open_change = np.zeros(n, np.int64)
    churned_at = np.full(n, -1, np.int64)
    run = np.full(n, -1, np.int64)
    churns: list[tuple[np.ndarray, int]] = []
    risk = _risk(h)
    grow = np.exp(0.5 * h)

    def close_monthly(idx, k):
        lines.add(idx, open_start[idx], k, qty[idx], open_change[idx], run[idx])

    def open_run(idx, k, change):
        alive[idx], run_start[idx], term_start[idx] = True, k, k
        run[idx] += 1
        ann, mon = idx[annual[idx]], idx[~annual[idx]]
        lines.add(ann, k, k + 12, qty[ann], change, run[ann])
        open_start[mon], open_change[mon] = k, change

    for k in range(months):
        u = rng.random((4, n))
        starting = np.flatnonzero(start == k)
        qty[starting] = seats0[starting]
        open_run(starting, k, NEW)

        # annual renewals
        at_renewal = alive & annual & (k > term_start) & ((k - term_start) % 12 == 0)
        first = (k - run_start) == 12
        p_churn = np.minimum(0.9, RENEWAL_CHURN[seg] * risk * np.where(first, 1.4, 1.0))
        churn_ann = at_renewal & (u[0] < p_churn)
        renew = np.flatnonzero(at_renewal & ~churn_ann)
        down = renew[u[1, renew] < RENEWAL_DOWN[seg[renew]] / grow[renew]]
        up = renew[(u[1, renew] > 1 - RENEWAL_UP[seg[renew]] * grow[renew])]
        qty[down] = _seat_change(rng, qty[down], up=False)
        qty[up] = _seat_change(rng, qty[up], up=True)
        change = np.full(len(renew), RENEWAL)
        change[np.isin(renew, down)] = DOWNGRADE
        lines.add(renew, k, k + 12, qty[renew], change, run[renew])
        term_start[renew] = k

        # annual mid-term add-on seats, co-termed with the current term
        mid = np.flatnonzero(alive & annual & ~at_renewal & (k > run_start) & (u[2] < MIDTERM_UP[seg] * grow))
        extra = _seat_change(rng, qty[mid], up=True) - qty[mid]
        lines.add(mid, k, term_start[mid] + 12, extra, UPSELL, run[mid])
        qty[mid] += extra

        # monthly accounts: churn or change seats
        monthly = alive & ~annual & (k > run_start)
        early = (k - run_start) <= 6
        churn_mon = monthly & (u[0] < np.minimum(0.9, MONTHLY_CHURN[seg] * risk * np.where(early, 3.0, 1.0)))
        changing = monthly & ~churn_mon
        m_up = np.flatnonzero(changing & (u[1] < MONTHLY_UP[seg] * grow))
        m_down = np.flatnonzero(changing & (u[1] > 1 - MONTHLY_DOWN[seg] / grow) & (qty > 1))
        for idx, is_up in ((m_up, True), (m_down, False)):
            close_monthly(idx, k)
            qty[idx] = _seat_change(rng, qty[idx], up=is_up)
            open_start[idx], open_change[idx] = k, UPSELL if is_up else DOWNGRADE
        gone = np.flatnonzero(churn_mon)
        close_monthly(gone, k)
        gone = np.concatenate([gone, np.flatnonzero(churn_ann)])
        alive[gone], churned_at[gone] = False, k
        churns.append((gone, k))

        # reactivations
        back = np.flatnonzero(~alive & (churned_at >= 0) & (k - churned_at >= 3) & (u[3] < REACTIVATE))
        qty[back] = np.maximum(1, np.rint(seats0[back] * rng.uniform(0.6, 1.1, len(back)))).astype(np.int64)
        churned_at[back] = -1
        open_run(back, k, REACTIVATION)

    still_open = np.flatnonzero(alive & ~annual)
    lines.add(still_open, open_start[still_open], -1, qty[still_open], open_change[still_open], run[still_open])
    return _history(rng, lines, churns, seg, months, window, n)


def _history(rng, lines: _Lines, churns, seg, months: int, window: int, n: int) -> History:
    acct = np.concatenate([c[0] for c in churns]).astype(np.int64)
    month = np.concatenate([np.full(len(c[0]), c[1]) for c in churns]).astype(np.int64)
    cum = REASON_WEIGHTS.cumsum(axis=1)[seg[acct]]
    reason = (rng.random(len(acct))[:, None] > cum).sum(axis=1)
    reason = np.minimum(reason, len(CHURN_REASON_CATEGORIES) - 1)
    future = np.full(n, -1, np.int64)
    later = month >= window
    order = np.argsort(month[later], kind="stable")[::-1]
    future[acct[later][order]] = month[later][order]     # earliest future churn wins
    a = lines.arrays()
    return History(months, window, a["acct"], a["start"], a["end"], a["qty"], a["change"], a["run"],
                   acct, month, reason, future)
