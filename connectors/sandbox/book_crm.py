"""CRM-side tables: contacts, opportunities (won and lost) and churn reasons.

Every won opportunity maps to contract lines (``contracts.opportunity_id``): New Business
for a first start or a reactivation, Renewal for an annual renewal, Upsell for added
seats, Downgrade for fewer seats. Self-serve seat changes happen in the product, so they
have no opportunity. Every churn has a lost Renewal carrying the loss reason; a few
accounts also lost a first New Business attempt or an Upsell.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from connectors.sandbox import book_catalog as cat
from connectors.sandbox.book_util import ids, pick, stamps, to_ns, updated_and_deleted

OPP_TYPE = {"new": "New Business", "reactivation": "New Business", "renewal": "Renewal",
            "upsell": "Upsell", "downgrade": "Downgrade"}
EARLY_CHURN_DAYS = 183


def crm_tables(rng, accounts: pd.DataFrame, lines: pd.DataFrame, churn: pd.DataFrame, as_of: dt.date) -> dict:
    contacts = _contacts(rng, accounts, as_of)
    _account_links(rng, accounts, contacts, as_of)
    _early_churn_reasons(rng, accounts, churn)
    won = _won(rng, accounts, lines)
    lost = _lost(rng, accounts, lines, churn, as_of)
    opps = pd.concat([won, lost], ignore_index=True).sort_values(["close_date", "_acct"], kind="stable").reset_index(drop=True)
    opp_ids = ids("OPP-", np.arange(1, len(opps) + 1), 7)
    lines.insert(2, "opportunity_id", "")
    has_line = opps["_line"].to_numpy() >= 0
    lines.loc[opps["_line"].to_numpy()[has_line], "opportunity_id"] = opp_ids[has_line]
    opps.insert(0, "opportunity_id", opp_ids)
    opps.insert(1, "account_id", accounts["account_id"].to_numpy()[opps["_acct"].to_numpy()])
    _opp_meta(rng, accounts, opps, as_of)
    _touch_accounts(accounts, opps, as_of)
    reasons = churn[~churn["future"]].merge(
        opps.loc[opps["_churn"] >= 0, ["_churn", "opportunity_id"]], left_index=True, right_on="_churn", how="left")
    reasons = reasons.assign(detail=reasons["reason"].map(cat.LOSS_DETAIL))[["account_id", "day", "reason", "opportunity_id", "detail"]]
    return {"contacts": contacts, "opportunities": opps.drop(columns=["_line", "_churn"]), "churn_reasons": reasons.reset_index(drop=True)}


def _contacts(rng, accounts: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """Contacts grouped by account: the first is the champion, the second the sponsor
    (not for self-serve), the rest users; ``user_id`` (their email, as product analytics
    identifies people) links usage and NPS."""
    seg = pd.Series(accounts["segment"]).map({s: i for i, s in enumerate(cat.SEGMENT_SHARE)}).to_numpy()
    count = cat.PLANS["contacts"].to_numpy()[seg] + rng.poisson(1.0, len(accounts))
    a = np.repeat(np.arange(len(accounts)), count)
    k = np.arange(len(a)) - np.repeat(np.cumsum(count) - count, count)
    people = _people(rng, a, k, seg, accounts)
    n = len(a)
    since = accounts["customer_since"].to_numpy()[a]
    since = np.where(np.isnat(since), np.datetime64(as_of, "ns"), since)
    joined = (since - (rng.integers(0, 60, n) * 86400 * 10**9).astype("timedelta64[ns]")).astype("datetime64[D]")
    created = np.minimum(stamps(rng, joined + (k * 40).astype("timedelta64[D]")), np.datetime64(as_of, "ns"))
    upd, gone, del_at = updated_and_deleted(rng, created, as_of, 0.04, 0.005)
    return pd.DataFrame({
        "contact_id": ids("CON-", np.arange(1, n + 1), 7),
        "account_id": accounts["account_id"].to_numpy()[a],
        "user_id": people["email"],
        **people,
        "phone": "+1-555-" + pd.Series(rng.integers(0, 10**7, n)).astype(str).str.zfill(7).to_numpy(dtype=object),
        "created_at": created, "updated_at": upd, "deleted": gone, "deleted_at": del_at,
    })


def _people(rng, a: np.ndarray, k: np.ndarray, seg: np.ndarray, accounts: pd.DataFrame) -> dict[str, np.ndarray]:
    """Names, role-appropriate titles and ``first.last@domain`` emails (unique per account)."""
    n = len(a)
    first, last = pick(rng, cat.FIRST_NAMES, n), pick(rng, cat.LAST_NAMES, n)
    role = np.where(k == 0, "champion", np.where((k == 1) & (seg[a] > 0), "sponsor", "user")).astype(object)
    title = np.where(role == "champion", pick(rng, cat.TITLES_CHAMPION, n),
                     np.where(role == "sponsor", pick(rng, cat.TITLES_SPONSOR, n), pick(rng, cat.TITLES_USER, n)))
    local = pd.Series(first + "." + last).str.lower().str.replace("ü", "ue").to_numpy(dtype=object)
    dup = pd.Series(local + accounts["account_id"].to_numpy()[a]).duplicated().to_numpy()
    local = np.where(dup, local + pd.Series(k).astype(str).to_numpy(dtype=object), local)
    return {"first_name": first, "last_name": last, "email": local + "@" + accounts["domain"].to_numpy()[a],
            "title": title, "role": role}


def _account_links(rng, accounts: pd.DataFrame, contacts: pd.DataFrame, as_of: dt.date) -> None:
    """Billing email (drives Stripe matching), champion/sponsor ids and CRM timestamps."""
    first = contacts.drop_duplicates("account_id").set_index("account_id")
    billing_local = first["email"].reindex(accounts["account_id"]).str.split("@").str[0].to_numpy(dtype=object)
    unrelated = "billing" + pd.Series(np.arange(len(accounts))).astype(str).to_numpy(dtype=object) + "@payments-mail.example"
    link = accounts["stripe_link"].to_numpy()
    accounts["billing_email"] = np.where(link == "none", unrelated, billing_local + "@" + accounts["domain"].to_numpy())
    for role in ("champion", "sponsor"):
        m = contacts[contacts["role"] == role].drop_duplicates("account_id").set_index("account_id")["contact_id"]
        accounts[f"{role}_contact_id"] = m.reindex(accounts["account_id"]).fillna("").to_numpy(dtype=object)
    since = accounts["customer_since"].to_numpy()
    created = stamps(rng, (since - (rng.integers(30, 120, len(accounts)) * 86400 * 10**9).astype("timedelta64[ns]")).astype("datetime64[D]"))
    deleted_share = np.where(accounts["status"] == "churned", 0.02, 0.0)
    upd, gone, del_at = updated_and_deleted(rng, created, as_of, 0.05, 0.0)
    gone = rng.random(len(accounts)) < deleted_share
    del_at = np.where(gone, np.datetime64(as_of, "ns") - (rng.integers(1, 6 * 86400, len(accounts)) * 10**9).astype("timedelta64[ns]"), np.datetime64("NaT", "ns"))
    accounts["created_at"], accounts["updated_at"] = created, np.where(gone, np.maximum(upd, del_at), upd)
    accounts["deleted"], accounts["deleted_at"] = gone, del_at


def _early_churn_reasons(rng, accounts: pd.DataFrame, churn: pd.DataFrame) -> None:
    """Churn in the first six months is mostly failed onboarding."""
    since = accounts["customer_since"].to_numpy()[churn["_acct"].to_numpy()]
    early = (churn["day"].to_numpy() - since) < np.timedelta64(EARLY_CHURN_DAYS, "D")
    flip = early & (rng.random(len(churn)) < 0.6)
    churn.loc[flip, "reason"] = "poor_onboarding"


def _prev_mrr(lines: pd.DataFrame) -> np.ndarray:
    """Account MRR on the day before each line starts, from lines ending that day."""
    ends = lines.dropna(subset=["end_date"]).assign(nxt=lambda f: f["end_date"] + pd.Timedelta(days=1))
    prior = ends.groupby(["_acct", "nxt"])["mrr_minor"].sum()
    key = pd.MultiIndex.from_arrays([lines["_acct"], lines["start_date"]])
    return prior.reindex(key).fillna(0).to_numpy(dtype=np.int64)


def _won(rng, accounts: pd.DataFrame, lines: pd.DataFrame) -> pd.DataFrame:
    self_serve = (accounts["segment"].to_numpy()[lines["_acct"].to_numpy()] == "self-serve")
    change = lines["change"].to_numpy()
    keep = ~(self_serve & np.isin(change, ["upsell", "downgrade"]))
    prev = _prev_mrr(lines)
    mrr = lines["mrr_minor"].to_numpy()
    monthly_change = (lines["interval"] == "month").to_numpy() & np.isin(change, ["upsell", "downgrade"])
    amount = np.where(change == "downgrade", 12 * np.abs(prev - mrr), 12 * mrr)
    amount = np.where(monthly_change & (change == "upsell"), 12 * np.abs(mrr - prev), amount)
    sel = np.flatnonzero(keep)
    start, end = lines["start_date"].to_numpy()[sel], lines["end_date"].to_numpy()[sel]
    return pd.DataFrame({
        "_acct": lines["_acct"].to_numpy()[sel], "_line": sel, "_churn": -1,
        "type": pd.Series(change[sel]).map(OPP_TYPE).to_numpy(dtype=object), "stage": "Closed Won", "is_won": True,
        "amount_minor": amount[sel].astype(np.int64), "currency": lines["currency"].to_numpy()[sel],
        "close_date": start - (rng.integers(1, 21, len(sel)) * 86400 * 10**9).astype("timedelta64[ns]"),
        "contract_start": start,
        # monthly deals are evergreen: the CRM does not know when they will end
        "contract_end": np.where(lines["interval"].to_numpy()[sel] == "year", end, np.datetime64("NaT", "ns")),
        "term_months": np.where(lines["interval"].to_numpy()[sel] == "year", 12, 1),
        "loss_reason": "", "loss_detail": "",
    })


def _lost(rng, accounts: pd.DataFrame, lines: pd.DataFrame, churn: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    past = churn[~churn["future"]]
    ends = lines.dropna(subset=["end_date"]).assign(nxt=lambda f: f["end_date"] + pd.Timedelta(days=1))
    at_stake = ends.groupby(["_acct", "nxt"])["mrr_minor"].sum()
    stake = at_stake.reindex(pd.MultiIndex.from_arrays([past["_acct"], past["day"]])).fillna(0).to_numpy(dtype=np.int64)
    renew = pd.DataFrame({"_acct": past["_acct"].to_numpy(), "_churn": past.index.to_numpy(), "type": "Renewal",
                          "amount_minor": 12 * stake, "reason": past["reason"].to_numpy(),
                          "close_date": past["day"].to_numpy() - (rng.integers(0, 20, len(past)) * 86400 * 10**9).astype("timedelta64[ns]")})
    n = len(accounts)
    since = accounts["customer_since"].to_numpy()
    nb = np.flatnonzero(rng.random(n) < 0.1)
    first_try = pd.DataFrame({"_acct": nb, "_churn": -1, "type": "New Business",
                              "amount_minor": 12 * 100 * accounts["licensed_seats"].to_numpy()[nb] * 30,
                              "reason": pick(rng, np.array(["competitor", "budget", "missing_feature"]), len(nb)),
                              "close_date": since[nb] - (rng.integers(60, 240, len(nb)) * 86400 * 10**9).astype("timedelta64[ns]")})
    lost = pd.concat([renew, first_try], ignore_index=True)
    lost["currency"] = accounts["currency"].to_numpy()[lost["_acct"].to_numpy()]
    return lost.assign(_line=-1, stage="Closed Lost", is_won=False, contract_start=pd.NaT, contract_end=pd.NaT,
                       term_months=0, loss_reason=lost["reason"], loss_detail=lost["reason"].map(cat.LOSS_DETAIL)).drop(columns="reason")


def _touch_accounts(accounts: pd.DataFrame, opps: pd.DataFrame, as_of: dt.date) -> None:
    """A won deal updates its account (seats, plan), so ``updated_at`` ≥ the last won close."""
    won = opps[opps["is_won"]].groupby("_acct")["close_date"].max() + pd.Timedelta(hours=10)
    last = np.full(len(accounts), np.datetime64("NaT"), "datetime64[ns]")
    last[won.index.to_numpy()] = np.minimum(won.to_numpy(), np.datetime64(as_of, "ns"))
    upd = accounts["updated_at"].to_numpy()
    accounts["updated_at"] = np.where(~np.isnat(last) & (last > upd), last, upd)


def _opp_meta(rng, accounts: pd.DataFrame, opps: pd.DataFrame, as_of: dt.date) -> None:
    a = opps["_acct"].to_numpy()
    close = opps["close_date"].to_numpy().astype("datetime64[D]")
    opps["close_date"] = to_ns(close)
    opps["name"] = (accounts["name"].to_numpy()[a] + " - " + opps["type"].to_numpy(dtype=object) + " "
                    + pd.Series(close.astype("datetime64[M]")).astype(str).to_numpy(dtype=object))
    opps["owner"] = accounts["owner"].to_numpy()[a]
    cycle = np.where(opps["type"] == "Renewal", 75, np.where(opps["type"] == "New Business", 60, 30))
    created = stamps(rng, close - (cycle * rng.uniform(0.5, 1.5, len(opps))).astype("timedelta64[D]"))
    opps["created_at"] = created
    closed_at = np.minimum(stamps(rng, close), np.datetime64(as_of, "ns") + np.timedelta64(18, "h"))
    opps["updated_at"], opps["deleted"], opps["deleted_at"] = updated_and_deleted(rng, closed_at, as_of, 0.03, 0.0)
    gone = (~opps["is_won"]).to_numpy() & (opps["_churn"] < 0).to_numpy() & (rng.random(len(opps)) < 0.05)
    opps["deleted"] = gone
    opps["deleted_at"] = np.where(gone, np.datetime64(as_of, "ns") - np.timedelta64(2, "D"), np.datetime64("NaT", "ns"))
