"""The shared machinery without a network: error table, retry policy, rate limiter,
paginators, identity rules. Sleep and clocks are fakes, so nothing here waits."""

import datetime as dt

import pytest

from connectors.errors import (AuthFailed, InvalidRequest, MissingField, MissingScope, QuotaExhausted, RateLimited,
                               SessionExpired, TransientError, classify, retry_after_seconds)
from connectors.identity import Link, domain_of, read_links_file
from connectors.errors import LinksFileError
from connectors.pagination import NextUrl, PaginationLoop, StartingAfter, paginate
from connectors.ratelimit import RateLimiter
from connectors.retry import Guard, RetryPolicy

NOW = dt.datetime(2026, 11, 15, 12, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize("status,headers,body,expected", [
    (429, {"Retry-After": "7"}, {"status": "error", "policyName": "TEN_SECONDLY_ROLLING"}, RateLimited),
    (429, {}, {"status": "error", "errorType": "RATE_LIMIT", "policyName": "DAILY"}, QuotaExhausted),
    (429, {"Stripe-Should-Retry": "false"}, {"error": {"type": "rate_limit_error"}}, QuotaExhausted),
    (429, {"Stripe-Should-Retry": "true"}, {"error": {"type": "rate_limit_error"}}, RateLimited),
    (403, {}, [{"errorCode": "REQUEST_LIMIT_EXCEEDED", "message": "TotalRequests Limit exceeded."}], QuotaExhausted),
    (401, {}, [{"errorCode": "INVALID_SESSION_ID", "message": "Session expired or invalid"}], SessionExpired),
    (401, {}, {"status": "error", "category": "INVALID_AUTHENTICATION"}, AuthFailed),
    (403, {}, {"status": "error", "category": "MISSING_SCOPES"}, MissingScope),
    (400, {}, [{"errorCode": "INVALID_FIELD", "message": "No such column 'Foo__c' on entity 'Account'"}], MissingField),
    (400, {"Stripe-Should-Retry": "false"}, {"error": {"type": "invalid_request_error"}}, InvalidRequest),
    (409, {"Stripe-Should-Retry": "true"}, {"error": {"type": "invalid_request_error", "code": "lock_timeout"}}, TransientError),
    (503, {}, [{"errorCode": "SERVER_UNAVAILABLE"}], TransientError),
    (500, {"Stripe-Should-Retry": "true"}, {"error": {"type": "api_error"}}, TransientError),
])
def test_error_table(status, headers, body, expected):
    err = classify("x", status, headers, body, what="call", now=NOW)
    assert type(err) is expected


def test_quota_message_says_when_to_resume():
    err = classify("hubspot", 429, {}, {"policyName": "DAILY"}, what="search deals", now=NOW)
    # no Retry-After: the next UTC midnight after 2026-11-15 12:00
    assert err.resume_at == dt.datetime(2026, 11, 16, tzinfo=dt.timezone.utc)
    assert "again after 2026-11-16 00:00 UTC" in str(err)


def test_retry_after_seconds_and_hubspot_interval_headers():
    assert retry_after_seconds({"Retry-After": "3"}) == 3.0
    assert retry_after_seconds({"X-HubSpot-RateLimit-Remaining": "0",
                                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000"}) == 10.0
    assert retry_after_seconds({"X-HubSpot-RateLimit-Remaining": "5"}) is None


class Script:
    """A call that fails with the given errors, then returns "done"."""

    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "done"


def guard(**kw):
    slept = []
    policy = RetryPolicy(sleep=slept.append, random=lambda: 1.0, base_delay=1.0, max_delay=8.0, **kw)
    return Guard("x", lambda exc, what: None, policy), slept


def test_transient_errors_back_off_exponentially_and_honour_retry_after():
    g, slept = guard()
    fn = Script(TransientError("x", "5xx"), TransientError("x", "5xx"), RateLimited("x", "429", retry_after=20.0),
                TransientError("x", "reset"))
    assert g.call("list", fn) == "done"
    # random()=1 → full delay: 1·2⁰=1, 1·2¹=2, max(4, Retry-After 20)=20, 1·2³=8
    assert slept == [1.0, 2.0, 20.0, 8.0]
    assert (g.stats.calls, g.stats.retries) == (5, 4)


def test_validation_errors_are_never_retried():
    g, slept = guard()
    fn = Script(InvalidRequest("x", "bad filter"))
    with pytest.raises(InvalidRequest):
        g.call("search", fn)
    assert (fn.calls, slept) == (1, [])


def test_gives_up_after_max_attempts():
    g, slept = guard(max_attempts=3)
    with pytest.raises(TransientError):
        g.call("list", Script(*[TransientError("x", "down")] * 5))
    assert len(slept) == 2


def test_session_expiry_re_authenticates_once():
    g, slept = guard()
    logins = []
    g.reauth = lambda: logins.append(1)
    assert g.call("query", Script(SessionExpired("x", "expired"))) == "done"
    assert (logins, slept, g.stats.reauths) == ([1], [0.0], 1)
    with pytest.raises(AuthFailed, match="rejected again after logging in"):
        g.call("query", Script(SessionExpired("x", "expired"), SessionExpired("x", "expired")))


def test_session_expiry_without_a_way_to_log_in_is_an_auth_failure():
    g, _ = guard()
    with pytest.raises(AuthFailed, match="credentials rejected"):
        g.call("query", Script(SessionExpired("x", "expired")))


def test_a_vendor_wait_beyond_the_limit_stops_like_a_quota():
    g, slept = guard(max_vendor_wait=60, clock=lambda: NOW)
    with pytest.raises(QuotaExhausted) as info:
        g.call("list", Script(RateLimited("x", "429", retry_after=3600.0)))
    assert slept == [] and info.value.resume_at == NOW + dt.timedelta(hours=1)


def test_translate_maps_library_exceptions():
    policy = RetryPolicy(sleep=lambda s: None)
    g = Guard("x", lambda exc, what: TransientError("x", what) if isinstance(exc, OSError) else None, policy)
    assert g.call("get", Script(OSError("reset"))) == "done"
    with pytest.raises(KeyError):  # not ours to translate: a bug surfaces as itself
        g.call("get", Script(KeyError("k")))


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.slept = []

    def sleep(self, s):
        self.slept.append(round(s, 6))
        self.now += s


def test_rate_limiter_is_a_sliding_window():
    clock = FakeClock()
    limiter = RateLimiter(3, 10.0, margin=0.0, clock=lambda: clock.now, sleep=clock.sleep)
    starts = []
    for _ in range(7):
        limiter.acquire()
        starts.append(clock.now)
    # 3 calls at t=0, the 4th waits for the first to leave the 10 s window, and so on
    assert starts == [0, 0, 0, 10, 10, 10, 20]
    assert RateLimiter(None).acquire() is None


def test_rate_limiter_per_second_below_one():
    limiter = RateLimiter.per_second(0.5)
    assert (limiter.max_calls, limiter.period) == (1, pytest.approx(2.0 * 1.05))


def test_paginate_follows_next_url_and_detects_loops():
    pages = {None: {"records": [1, 2], "done": False, "nextRecordsUrl": "/q/2"},
             "/q/2": {"records": [3], "done": True}}
    assert [p.items for p in paginate(pages.get, NextUrl())] == [[1, 2], [3]]
    looping = {None: {"data": [{"id": "a"}], "has_more": True}, "a": {"data": [{"id": "a"}], "has_more": True}}
    with pytest.raises(PaginationLoop):
        list(paginate(looping.get, StartingAfter()))


def test_domain_of_normalises_emails_and_urls():
    assert [domain_of(v) for v in ("Ops@Acme.IO", "https://www.acme.io/about", "acme.io", "", None)] == [
        "acme.io", "acme.io", "acme.io", None, None]
    assert Link("stripe", "cus_1", None, "unmatched").resolved == "stripe:cus_1"


def test_links_file_errors_name_the_row(tmp_path):
    path = tmp_path / "links.csv"
    path.write_text("source,source_id,account_id\nstripe,cus_1,ACC-1\nstripe,,ACC-2\n")
    with pytest.raises(LinksFileError, match="row 3"):
        read_links_file(path)
    path.write_text("source,account_id\n")
    with pytest.raises(LinksFileError, match="missing column"):
        read_links_file(path)
    path.write_text("source,source_id,account_id\nstripe, cus_1 ,ACC-1\n")
    assert read_links_file(path) == {("stripe", "cus_1"): "ACC-1"}


def test_clients_of_one_vendor_account_share_its_rate_window():
    now = [100.0]
    waits = []

    def sleep(s):
        waits.append(s)
        now[0] += s

    clock = lambda: now[0]  # noqa: E731
    sync_client = RateLimiter.shared(("stripe", "https://test.invalid"), 2, 1.0, clock=clock, sleep=sleep, margin=0)
    later_client = RateLimiter.shared(("stripe", "https://test.invalid"), 2, 1.0, clock=clock, sleep=sleep, margin=0)
    other_account = RateLimiter.shared(("stripe", "https://other.invalid"), 2, 1.0, clock=clock, sleep=sleep, margin=0)
    sync_client.acquire()
    sync_client.acquire()
    other_account.acquire()          # another account's window is its own: no wait
    assert waits == []
    later_client.acquire()           # the third call in the same second waits for the first to age out
    assert later_client is sync_client and waits == [1.0]
