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
    sim = _Sim(rng, seg, annual, seats0, h)
    months = window + FUTURE_MONTHS
    for k in range(months):
        u = rng.random((4, len(seg)))
        sim.start(np.flatnonzero(start == k), k)
        churn_ann, at_renewal = sim.renew_annual(k, u)
        sim.add_seats_midterm(k, u, at_renewal)
        churn_mon = sim.step_monthly(k, u)
        sim.churn(np.concatenate([churn_mon, churn_ann]), k)
        sim.reactivate(k, u)
    sim.close_open_lines()
    return _history(rng, sim.lines, sim.churns, seg, months, window, len(seg))


class _Sim:
    """Per-account state arrays and the monthly transitions acting on all accounts at once."""

    def __init__(self, rng, seg, annual, seats0, h) -> None:
        n = len(seg)
        self.rng, self.seg, self.annual, self.seats0 = rng, seg, annual, seats0
        self.risk, self.grow = _risk(h), np.exp(0.5 * h)
        self.lines = _Lines()
        self.churns: list[tuple[np.ndarray, int]] = []
        self.alive = np.zeros(n, bool)
        self.qty = np.zeros(n, np.int64)
        self.term_start = np.zeros(n, np.int64)
        self.run_start = np.full(n, -1, np.int64)
        self.open_start = np.full(n, -1, np.int64)     # monthly accounts' open line
        self.open_change = np.zeros(n, np.int64)
        self.churned_at = np.full(n, -1, np.int64)
        self.run = np.full(n, -1, np.int64)

    def _open_run(self, idx, k, change) -> None:
        """Start a paying run: annual accounts get a 12-month line, monthly an open one."""
        self.alive[idx], self.run_start[idx], self.term_start[idx] = True, k, k
        self.run[idx] += 1
        ann, mon = idx[self.annual[idx]], idx[~self.annual[idx]]
        self.lines.add(ann, k, k + 12, self.qty[ann], change, self.run[ann])
        self.open_start[mon], self.open_change[mon] = k, change

    def _close_monthly(self, idx, k) -> None:
        self.lines.add(idx, self.open_start[idx], k, self.qty[idx], self.open_change[idx], self.run[idx])

    def start(self, idx, k) -> None:
        self.qty[idx] = self.seats0[idx]
        self._open_run(idx, k, NEW)

    def renew_annual(self, k, u):
        """At each anniversary: churn, or renew flat / with more seats / with fewer seats."""
        seg, grow = self.seg, self.grow
        at_renewal = self.alive & self.annual & (k > self.term_start) & ((k - self.term_start) % 12 == 0)
        first = (k - self.run_start) == 12
        p_churn = np.minimum(0.9, RENEWAL_CHURN[seg] * self.risk * np.where(first, 1.4, 1.0))
        churn = at_renewal & (u[0] < p_churn)
        renew = np.flatnonzero(at_renewal & ~churn)
        down = renew[u[1, renew] < RENEWAL_DOWN[seg[renew]] / grow[renew]]
        up = renew[u[1, renew] > 1 - RENEWAL_UP[seg[renew]] * grow[renew]]
        self.qty[down] = _seat_change(self.rng, self.qty[down], up=False)
        self.qty[up] = _seat_change(self.rng, self.qty[up], up=True)
        change = np.where(np.isin(renew, down), DOWNGRADE, RENEWAL)
        self.lines.add(renew, k, k + 12, self.qty[renew], change, self.run[renew])
        self.term_start[renew] = k
        return np.flatnonzero(churn), at_renewal

    def add_seats_midterm(self, k, u, at_renewal) -> None:
        """Annual add-on seats bought mid-term, co-termed with the current term."""
        mid = np.flatnonzero(self.alive & self.annual & ~at_renewal & (k > self.run_start)
                             & (u[2] < MIDTERM_UP[self.seg] * self.grow))
        extra = _seat_change(self.rng, self.qty[mid], up=True) - self.qty[mid]
        self.lines.add(mid, k, self.term_start[mid] + 12, extra, UPSELL, self.run[mid])
        self.qty[mid] += extra

    def step_monthly(self, k, u) -> np.ndarray:
        """Monthly accounts churn (3× hazard in the first six months) or change seats."""
        seg = self.seg
        monthly = self.alive & ~self.annual & (k > self.run_start)
        early = (k - self.run_start) <= 6
        churn = monthly & (u[0] < np.minimum(0.9, MONTHLY_CHURN[seg] * self.risk * np.where(early, 3.0, 1.0)))
        changing = monthly & ~churn
        ups = np.flatnonzero(changing & (u[1] < MONTHLY_UP[seg] * self.grow))
        downs = np.flatnonzero(changing & (u[1] > 1 - MONTHLY_DOWN[seg] / self.grow) & (self.qty > 1))
        for idx, is_up in ((ups, True), (downs, False)):
            self._close_monthly(idx, k)
            self.qty[idx] = _seat_change(self.rng, self.qty[idx], up=is_up)
            self.open_start[idx], self.open_change[idx] = k, UPSELL if is_up else DOWNGRADE
        gone = np.flatnonzero(churn)
        self._close_monthly(gone, k)
        return gone

    def churn(self, idx, k) -> None:
        self.alive[idx], self.churned_at[idx] = False, k
        self.churns.append((idx, k))

    def reactivate(self, k, u) -> None:
        """Churned accounts may come back after three months, at 60–110% of first seats."""
        back = np.flatnonzero(~self.alive & (self.churned_at >= 0) & (k - self.churned_at >= 3) & (u[3] < REACTIVATE))
        scale = self.rng.uniform(0.6, 1.1, len(back))
        self.qty[back] = np.maximum(1, np.rint(self.seats0[back] * scale)).astype(np.int64)
        self.churned_at[back] = -1
        self._open_run(back, k, REACTIVATION)

    def close_open_lines(self) -> None:
        still = np.flatnonzero(self.alive & ~self.annual)
        self.lines.add(still, self.open_start[still], -1, self.qty[still], self.open_change[still], self.run[still])


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
