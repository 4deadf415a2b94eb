"""Ticket sentiment: a local, deterministic lexicon scorer (no network, no model download).

Built on VADER (``vaderSentiment``), a maintained rule-based scorer that already handles
negation ("not happy"), intensifiers ("very"), capitals and exclamation marks. Its lexicon is
general-purpose, so support vocabulary that signals friction or goodwill in a SaaS ticket is
added from :data:`SUPPORT_TERMS` (valence on VADER's −4…+4 scale), and words that are mere
courtesy or routine at a help desk ("please", "support", "help") are neutralised.

The score of a ticket is VADER's ``compound`` value of ``subject + ". " + body``: −1 (very
negative) … +1 (very positive), 0 for empty or neutral text.
"""

from __future__ import annotations

from functools import lru_cache

import ibis
import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

#: Support-desk words VADER does not know or rates too mildly for a ticket.
SUPPORT_TERMS: dict[str, float] = {
    "outage": -2.5, "outages": -2.5, "downtime": -2.0, "down": -0.8, "bug": -1.3, "bugs": -1.3,
    "buggy": -2.0, "crash": -2.2, "crashes": -2.2, "crashing": -2.2, "broken": -2.0, "unusable": -2.8,
    "cancel": -1.6, "cancelling": -1.8, "canceling": -1.8, "cancellation": -1.8, "refund": -1.4,
    "churn": -1.6, "slow": -1.2, "slowness": -1.4, "laggy": -1.5, "timeout": -1.3, "timeouts": -1.3,
    "escalate": -1.2, "escalation": -1.4, "blocker": -2.0, "blocked": -1.3, "unacceptable": -2.6,
    "error": -1.2, "errors": -1.2, "failing": -1.8, "fails": -1.6, "regression": -1.5, "workaround": -0.6,
    "competitor": -0.8, "switching": -0.6,
    "seamless": 2.0, "intuitive": 1.8, "smooth": 1.5, "curious": 0.8, "roadmap": 0.4, "expand": 1.0,
    "expanding": 1.0, "onboard": 0.6, "rollout": 0.4, "thanks": 1.5, "appreciated": 1.8,
    # desk vocabulary that is courtesy or routine in a ticket, not sentiment
    "please": 0.0, "support": 0.0, "help": 0.0, "helpdesk": 0.0, "kindly": 0.0,
}

MAX_CHARS = 2000


class SentimentScorer:
    """VADER with :data:`SUPPORT_TERMS` merged into its lexicon; results cached per text."""

    def __init__(self, extra_terms: dict[str, float] | None = None):
        self._vader = SentimentIntensityAnalyzer()
        self._vader.lexicon.update(SUPPORT_TERMS if extra_terms is None else extra_terms)
        self.score = lru_cache(maxsize=200_000)(self._score)

    def _score(self, text: str) -> float:
        if not text or not text.strip():
            return 0.0
        return float(self._vader.polarity_scores(text[:MAX_CHARS])["compound"])

    def score_ticket(self, subject: str | None, body: str | None) -> float:
        parts = [p.strip() for p in (subject, body) if isinstance(p, str) and p.strip()]
        return self.score(". ".join(parts))


_DEFAULT: SentimentScorer | None = None


def default_scorer() -> SentimentScorer:
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = SentimentScorer()
    return _DEFAULT


def score_text(text: str) -> float:
    """Compound sentiment of one text, −1…+1."""
    return default_scorer().score(text)


def sentiment_frame(tickets: pd.DataFrame, scorer: SentimentScorer | None = None) -> pd.DataFrame:
    """``[ticket_id, sentiment]`` for a frame with ``ticket_id, subject, body``."""
    scorer = scorer or default_scorer()
    values = [scorer.score_ticket(s, b) for s, b in zip(tickets["subject"], tickets["body"])]
    return pd.DataFrame({"ticket_id": tickets["ticket_id"].astype(str), "sentiment": pd.Series(values, dtype="float64")})


def ticket_sentiment_frame(tickets: ibis.Table) -> pd.DataFrame:
    """Score the given tickets' text (executes the expression) → ``[ticket_id, sentiment]``."""
    frame = tickets.select("ticket_id", "subject", "body").distinct(on="ticket_id").to_pandas()
    return sentiment_frame(frame)


def ticket_sentiments(tickets: ibis.Table) -> ibis.Table:
    """:func:`ticket_sentiment_frame` as an in-memory Ibis table."""
    return ibis.memtable(ticket_sentiment_frame(tickets))
