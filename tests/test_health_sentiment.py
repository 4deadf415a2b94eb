"""Ticket sentiment: sign and ordering on typical support texts, determinism, empty input."""

from __future__ import annotations

import pandas as pd
import pytest

from engine.health.sentiment import SentimentScorer, score_text, sentiment_frame


@pytest.mark.parametrize(
    "text",
    [
        "The dashboard is broken again and we are very frustrated.",
        "Third outage this week. This is unacceptable, we are considering cancelling.",
        "Exports keep crashing and support has not replied.",
        "Your product is not working and it is not good enough.",
    ],
)
def test_frustrated_tickets_are_negative(text):
    assert score_text(text) < -0.3


@pytest.mark.parametrize(
    "text",
    [
        "Curious about the roadmap for reporting, thanks!",
        "Love the new automation builder, the rollout was seamless.",
        "Great onboarding session, the team really appreciated it.",
    ],
)
def test_curious_or_happy_tickets_are_positive(text):
    assert score_text(text) > 0.3


def test_neutral_and_empty_text():
    assert score_text("") == 0.0 and score_text("   ") == 0.0
    assert abs(score_text("Please update the billing address on invoice 42.")) < 0.3


def test_negation_flips_polarity():
    assert score_text("The integration is good") > 0 > score_text("The integration is not good")


def test_support_terms_make_vocabulary_count():
    plain = SentimentScorer(extra_terms={})
    tuned = SentimentScorer()
    text = "Another outage, the sync is buggy"
    assert plain.score(text) == 0.0  # general-purpose lexicon has none of these words
    assert tuned.score(text) < -0.5


def test_frame_scores_subject_and_body_deterministically():
    tickets = pd.DataFrame({"ticket_id": ["t1", "t2"], "subject": ["Outage", None], "body": ["Everything is down", None]})
    first, second = sentiment_frame(tickets), sentiment_frame(tickets)
    pd.testing.assert_frame_equal(first, second)
    assert first["sentiment"].iloc[0] < 0 and first["sentiment"].iloc[1] == 0.0
    assert first["sentiment"].iloc[0] == score_text("Outage. Everything is down")
