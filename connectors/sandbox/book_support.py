"""Support tickets and NPS responses whose tone follows each account's trajectory.

Ticket volume is Poisson per customer-year by segment. A ticket is *frustrated* when it
falls in the 120 days before the account churns (past or latent future churn), or for
weak-health accounts; *curious* for healthy ones; else neutral. NPS is surveyed every six
months per active account; scores follow health and drop before churn.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from connectors.sandbox import book_catalog as cat
from connectors.sandbox.book_util import ids, pick, stamps, to_ns, updated_and_deleted

PRE_CHURN_DAYS = 120
#: (subject, category) per tone
SUBJECTS = {
    "frustrated": [
        ("Dashboards still broken after last week's fix", "bug"), ("Export keeps timing out again", "bug"),
        ("We are being billed for seats we don't use", "billing"), ("Data sync has been wrong for days", "outage"),
        ("Nobody replied to our escalation", "bug"), ("Reports show different numbers than our CRM", "bug"),
    ],
    "neutral": [
        ("Question about invoice", "billing"), ("Add a new user to our workspace", "how-to"),
        ("SSO configuration", "how-to"), ("Change billing contact", "billing"),
        ("Alert emails going to spam", "bug"), ("Export format question", "how-to"),
    ],
    "curious": [
        ("Can we automate the weekly forecast?", "feature-request"), ("Is there an API for custom reports?", "how-to"),
        ("How do other teams use alerts?", "how-to"), ("Interested in the forecasting add-on", "feature-request"),
        ("Best practice for onboarding a new team", "how-to"), ("Can we connect a second CRM?", "feature-request"),
    ],
}
BODIES = {
    "frustrated": np.array([
        "This is the third time we report this. Our team has stopped trusting the numbers and leadership is asking whether we should keep paying for this.",
        "Honestly this is getting frustrating. We lost a day of work and still have no answer. Please escalate.",
        "We were promised this would be fixed. If it is not resolved soon we will have to look at alternatives.",
    ], dtype=object),
    "neutral": np.array([
        "Could you help us with this when you have a moment? Details are below.",
        "Please see the request below and let us know if you need anything else.",
        "Following up on this small request from our admin team.",
    ], dtype=object),
    "curious": np.array([
        "We love how the team is using dashboards and want to roll this out further. What would you recommend?",
        "Our usage is growing quickly and we are exploring what else we can do. Any examples from similar companies?",
        "Great product so far! We'd like to learn more about advanced features for our next quarter.",
    ], dtype=object),
}
NPS_COMMENTS = {
    "promoter": np.array(["Saves our team hours every week.", "Great support and the dashboards are excellent.", "Core to how we run renewals now."], dtype=object),
    "passive": np.array(["Good tool, some reports are slow.", "Does the job; onboarding could be smoother.", ""], dtype=object),
    "detractor": np.array(["Too expensive for what we use.", "Numbers don't match our CRM and support is slow.", "Hard to get the team to adopt it."], dtype=object),
}


def support_tables(rng, accounts: pd.DataFrame, contacts: pd.DataFrame, profile: pd.DataFrame, as_of: dt.date) -> dict:
    span_start, span_end, churn_day = _spans(accounts, profile, as_of)
    return {
        "tickets": _tickets(rng, accounts, contacts, profile, span_start, span_end, churn_day, as_of),
        "nps": _nps(rng, accounts, contacts, profile, span_start, span_end, churn_day),
    }


def _spans(accounts: pd.DataFrame, profile: pd.DataFrame, as_of: dt.date):
    """Customer span per account (first paid day → last churn or as_of) and the churn day
    tone reacts to (the last past churn, else the latent future one)."""
    today = np.datetime64(as_of, "ns")
    start = accounts["customer_since"].to_numpy()
    churned = accounts["churned_on"].to_numpy()
    end = np.where(np.isnat(churned), today, churned)
    churn_day = np.where(np.isnat(churned), profile["future_churn"].to_numpy(), churned)
    return start, end, churn_day


def _tone(rng, when: np.ndarray, churn_day: np.ndarray, health: np.ndarray) -> np.ndarray:
    before = ~np.isnat(churn_day) & (churn_day - when <= np.timedelta64(PRE_CHURN_DAYS, "D")) & (churn_day > when)
    u = rng.random(len(when))
    frustrated = (before & (u < 0.8)) | (~before & (health < -1) & (u < 0.5))
    curious = ~frustrated & (health > 0) & (u < 0.3 + 0.4 * np.minimum(health, 1))
    return np.where(frustrated, "frustrated", np.where(curious, "curious", "neutral")).astype(object)


def _tickets(rng, accounts, contacts, profile, start, end, churn_day, as_of) -> pd.DataFrame:
    a, created = _ticket_times(rng, profile, start, end, churn_day, as_of)
    tone = _tone(rng, created, churn_day[a], profile["health"].to_numpy()[a])
    df = pd.DataFrame({"account_id": accounts["account_id"].to_numpy()[a],
                       "contact_id": _contact_for(rng, contacts, a, accounts), "created_at": created})
    df = df.assign(**_ticket_fields(rng, tone, created, as_of))
    df.insert(0, "ticket_id", "")
    df = df.iloc[np.argsort(created, kind="stable")].reset_index(drop=True)
    df["ticket_id"] = ids("TKT-", np.arange(1, len(df) + 1), 7)
    return df


def _ticket_times(rng, profile, start, end, churn_day, as_of):
    """Poisson count per customer-year (more for weak health) plus ~2 around a churn;
    half of an account's tickets fall in its last 120 days when it churns."""
    seg, health = profile["seg"].to_numpy(), profile["health"].to_numpy()
    years = np.maximum(0, (end - start) / np.timedelta64(365, "D"))
    pre = ~np.isnat(churn_day)
    rate = cat.PLANS["ticket_rate"].to_numpy()[seg] * years * np.exp(-0.3 * health)
    count = rng.poisson(rate) + np.where(pre, rng.poisson(2, len(seg)), 0)
    a = np.repeat(np.arange(len(seg)), count)
    late = np.repeat(pre, count) & (rng.random(len(a)) < 0.5)
    lo = np.where(late, np.maximum(start[a], end[a] - np.timedelta64(PRE_CHURN_DAYS, "D")), start[a])
    day = (lo + ((end[a] - lo) * rng.random(len(a))).astype("timedelta64[ns]")).astype("datetime64[D]")
    return a, np.minimum(stamps(rng, day), np.datetime64(as_of, "ns") + np.timedelta64(17, "h"))


def _ticket_fields(rng, tone: np.ndarray, created: np.ndarray, as_of: dt.date) -> dict[str, np.ndarray]:
    """Subject/category/body by tone; frustrated tickets run hotter and rate lower."""
    n = len(tone)
    subject, category, body = _texts(rng, tone)
    priority = np.where(tone == "frustrated", pick(rng, np.array(["high", "urgent", "normal"]), n),
                        pick(rng, np.array(["low", "normal", "normal", "high"]), n))
    hours = rng.exponential(np.where(priority == "urgent", 8, 40), n)
    closed = created + (hours * 3600).astype("timedelta64[s]").astype("timedelta64[ns]")
    open_ = closed > np.datetime64(as_of, "ns") + np.timedelta64(18, "h")
    csat = np.where(tone == "frustrated", rng.integers(1, 4, n), rng.integers(3, 6, n)).astype(float)
    csat[open_ | (rng.random(n) < 0.4)] = np.nan
    upd, gone, del_at = updated_and_deleted(rng, np.where(open_, created, closed), as_of, 0.03, 0.003)
    return {
        "closed_at": np.where(open_, np.datetime64("NaT", "ns"), closed), "priority": priority.astype(object),
        "status": np.where(open_, pick(rng, np.array(["open", "pending"]), n), "closed").astype(object),
        "category": category, "subject": subject, "body": body, "tone": tone, "csat": csat,
        "updated_at": upd, "deleted": gone, "deleted_at": del_at,
    }


def _texts(rng, tone: np.ndarray):
    subject, category, body = (np.empty(len(tone), dtype=object) for _ in range(3))
    for t, options in SUBJECTS.items():
        m = tone == t
        k = rng.integers(0, len(options), int(m.sum()))
        subject[m] = np.array([o[0] for o in options], dtype=object)[k]
        category[m] = np.array([o[1] for o in options], dtype=object)[k]
        body[m] = pick(rng, BODIES[t], int(m.sum()))
    return subject, category, body


def _contact_for(rng, contacts: pd.DataFrame, a: np.ndarray, accounts: pd.DataFrame) -> np.ndarray:
    """A random contact of each row's account (contacts are grouped by account in order)."""
    codes = pd.Categorical(contacts["account_id"], categories=accounts["account_id"]).codes
    first = np.searchsorted(codes, np.arange(len(accounts)))
    count = np.bincount(codes, minlength=len(accounts))
    pos = first[a] + (rng.random(len(a)) * np.maximum(count[a], 1)).astype(np.int64)
    return contacts["contact_id"].to_numpy()[np.minimum(pos, len(contacts) - 1)]


def _nps(rng, accounts, contacts, profile, start, end, churn_day) -> pd.DataFrame:
    health = profile["health"].to_numpy()
    surveys = np.maximum(0, ((end - start) / np.timedelta64(182, "D")).astype(np.int64))
    a = np.repeat(np.arange(len(accounts)), surveys)
    k = np.arange(len(a)) - np.repeat(np.cumsum(surveys) - surveys, surveys)
    day = (start[a] + ((k + 1) * 182).astype("timedelta64[D]")).astype("datetime64[D]")
    answered = rng.random(len(a)) < 0.6
    a, day = a[answered], day[answered]
    n = len(a)
    before = ~np.isnat(churn_day[a]) & (churn_day[a] - to_ns(day) <= np.timedelta64(PRE_CHURN_DAYS, "D"))
    score = np.clip(np.rint(7.5 + 1.5 * health[a] - np.where(before, 4, 0) + rng.normal(0, 1.3, n)), 0, 10).astype(np.int64)
    group = np.where(score >= 9, "promoter", np.where(score >= 7, "passive", "detractor"))
    comment = np.empty(n, dtype=object)
    for g in NPS_COMMENTS:
        m = group == g
        comment[m] = pick(rng, NPS_COMMENTS[g], int(m.sum()))
    contact = _contact_for(rng, contacts, a, accounts)
    user = contacts.set_index("contact_id")["user_id"].reindex(contact).to_numpy(dtype=object)
    return pd.DataFrame({
        "response_id": ids("NPS-", np.arange(1, n + 1), 7), "account_id": accounts["account_id"].to_numpy()[a],
        "contact_id": contact, "user_id": user, "day": to_ns(day), "score": score, "comment": comment,
        "created_at": stamps(rng, day),
    }).sort_values(["day", "response_id"], kind="stable").reset_index(drop=True)
