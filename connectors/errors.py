"""What can go wrong talking to a vendor, and what the sync does about it.

One small exception tree for every connector::

    ConnectorError                 source, status, a fix the user can act on; never a secret
     ├── TransientError            retried with backoff (429, 5xx, connection reset, timeout)
     │    └── RateLimited          429: wait at least what the vendor asked (Retry-After, ...)
     ├── SessionExpired            401 / INVALID_SESSION_ID: log in again once, then retry
     ├── QuotaExhausted            daily API budget spent: stop cleanly, resume at ``resume_at``
     └── FatalError                never retried: the request itself is wrong
          ├── AuthFailed           credentials rejected
          ├── MissingScope         403: the key/token lacks a permission
          ├── MissingField         a mapped field or object is not readable
          └── InvalidRequest       400/404/422 validation errors

Decisions are a table (:data:`STATUS_ACTIONS`) from HTTP status to error class; the
vendor-specific hints (``Stripe-Should-Retry``, HubSpot's ``policyName``, Salesforce
``errorCode``) are read by :func:`classify` and override the table where the vendor knows
better than the status code.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, Mapping


class ConnectorError(Exception):
    """Base of every connector failure. ``str()`` is safe to log and show."""

    def __init__(self, source: str, message: str, *, status: int | None = None, fix: str = ""):
        self.source = source
        self.status = status
        self.fix = fix
        text = f"{source}: {message}"
        if status is not None:
            text += f" (HTTP {status})"
        self.detail = text
        if fix:
            text += f". {fix}"
        super().__init__(text)


class TransientError(ConnectorError):
    """Worth retrying; ``retry_after`` is the vendor's requested wait in seconds, if any."""

    def __init__(self, source: str, message: str, *, status: int | None = None, retry_after: float | None = None):
        super().__init__(source, message, status=status)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """The vendor throttled us (429 or equivalent)."""


class SessionExpired(ConnectorError):
    """The session/token expired; one re-authentication is allowed before giving up."""


class QuotaExhausted(ConnectorError):
    """The daily API budget is spent; everything synced so far is kept."""

    def __init__(self, source: str, message: str, *, status: int | None = None, resume_at: dt.datetime | None = None):
        self.resume_at = resume_at
        when = f"after {resume_at:%Y-%m-%d %H:%M} UTC" if resume_at else "when the daily limit resets"
        super().__init__(source, message, status=status, fix=f"Run `nrr sync --source {source}` again {when}; it resumes where it stopped")


class FatalError(ConnectorError):
    """Not retried: retrying the same request cannot succeed."""


class AuthFailed(FatalError):
    """Credentials rejected."""


class MissingScope(FatalError):
    """Authenticated, but not allowed to read this object."""


class MissingField(FatalError):
    """A configured object or field does not exist or is not readable."""


class InvalidRequest(FatalError):
    """The vendor rejected the request as invalid."""


#: HTTP status → error class. Anything ≥ 500 not listed is transient.
STATUS_ACTIONS: dict[int, type[ConnectorError]] = {
    400: InvalidRequest,
    401: SessionExpired,
    402: InvalidRequest,   # Stripe: card/request failed — a validation outcome
    403: MissingScope,
    404: InvalidRequest,
    408: TransientError,
    409: TransientError,   # Stripe lock_timeout / idempotency race: safe to retry reads
    422: InvalidRequest,
    429: RateLimited,
}

_QUOTA_CODES = {"REQUEST_LIMIT_EXCEEDED", "DAILY", "daily_limit", "api_quota_exceeded"}
_SESSION_CODES = {"INVALID_SESSION_ID", "EXPIRED_AUTHENTICATION"}
_AUTH_CODES = {"INVALID_AUTH", "INVALID_AUTHENTICATION", "INVALID_LOGIN", "invalid_api_key", "api_key_expired"}
_FIELD_CODES = {"INVALID_FIELD", "INVALID_TYPE", "PROPERTY_DOESNT_EXIST"}


def vendor_codes(body: Any) -> set[str]:
    """Every error code/category/policy name a vendor put in its error body."""
    if isinstance(body, (bytes, str)):
        try:
            body = json.loads(body or b"null")
        except ValueError:
            return set()
    items = body if isinstance(body, list) else [body]
    codes: set[str] = set()
    for item in items:
        if not isinstance(item, dict):
            continue
        err = item.get("error") if isinstance(item.get("error"), dict) else item
        for key in ("errorCode", "code", "category", "policyName", "type", "subCategory"):
            if isinstance(err.get(key), str):
                codes.add(err[key])
    return codes


def vendor_message(body: Any, limit: int = 200) -> str:
    """The human message of a vendor error body, truncated; bodies never carry our secrets."""
    try:
        data = json.loads(body) if isinstance(body, (bytes, str)) else body
    except ValueError:
        return ""
    first = data[0] if isinstance(data, list) and data else data
    if isinstance(first, dict):
        err = first.get("error") if isinstance(first.get("error"), dict) else first
        return str(err.get("message") or "")[:limit]
    return ""


def retry_after_seconds(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """Seconds the vendor asked us to wait: ``Retry-After`` (seconds or HTTP date), else
    HubSpot's ``X-HubSpot-RateLimit-Interval-Milliseconds`` when the remaining count is 0."""
    h = {k.lower(): v for k, v in headers.items()}
    value = h.get("retry-after")
    if value:
        try:
            return max(0.0, float(value))
        except ValueError:
            from email.utils import parsedate_to_datetime

            try:
                when = parsedate_to_datetime(value)
            except (TypeError, ValueError):
                return None
            now = now or dt.datetime.now(dt.timezone.utc)
            return max(0.0, (when - now).total_seconds())
    if h.get("x-hubspot-ratelimit-remaining") == "0" and h.get("x-hubspot-ratelimit-interval-milliseconds"):
        return int(h["x-hubspot-ratelimit-interval-milliseconds"]) / 1000
    return None


def next_utc_midnight(now: dt.datetime) -> dt.datetime:
    return (now + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)


def classify(
    source: str, status: int, headers: Mapping[str, str], body: Any, *, what: str, now: dt.datetime
) -> ConnectorError:
    """Turn one failed HTTP exchange into the error the retry policy acts on.

    Order matters: quota before rate limit (both can be 429/403), the vendor's explicit
    ``Stripe-Should-Retry`` before the status table, auth codes before the generic 401.
    """
    codes = vendor_codes(body)
    msg = vendor_message(body) or f"{what} failed"
    wait = retry_after_seconds(headers, now)
    should_retry = {k.lower(): v for k, v in headers.items()}.get("stripe-should-retry")
    if codes & _QUOTA_CODES or (status == 429 and should_retry == "false"):  # throttled, and told not to retry
        resume = now + dt.timedelta(seconds=wait) if wait else next_utc_midnight(now)
        return QuotaExhausted(source, f"daily API limit reached during {what}: {msg}", status=status, resume_at=resume)
    if codes & _SESSION_CODES:
        return SessionExpired(source, f"session expired during {what}", status=status)
    if codes & _AUTH_CODES:
        return AuthFailed(source, f"credentials rejected during {what}: {msg}", status=status,
                          fix=f"Check the [{source}] entry in credentials.toml")
    if codes & _FIELD_CODES:
        return MissingField(source, f"{what}: {msg}", status=status,
                            fix=f"Fix the field mapping under [sources.{source}.fields] in nrr.toml or grant read access to the field")
    if should_retry == "true":
        cls = RateLimited if status == 429 else TransientError
        return cls(source, f"{what}: {msg}", status=status, retry_after=wait)
    if should_retry == "false" and status < 500:
        return InvalidRequest(source, f"{what}: {msg}", status=status)
    cls = STATUS_ACTIONS.get(status, TransientError if status >= 500 else InvalidRequest)
    if issubclass(cls, TransientError):
        return cls(source, f"{what}: {msg}", status=status, retry_after=wait)
    if cls is MissingScope:
        return MissingScope(source, f"not permitted: {what}: {msg}", status=status,
                            fix=f"Grant the {source} key/user read access to this object (see `nrr doctor`)")
    return cls(source, f"{what}: {msg}", status=status)


class LinksFileError(ConnectorError):
    """The account links file is malformed; the message names the file and row."""

    def __init__(self, message: str):
        super().__init__("links", message)


#: What the CLI reports as one clear line instead of a traceback.
USER_ERRORS: tuple[type[Exception], ...] = (ConnectorError,)


def require_credential(source: str, credentials: dict, key: str) -> str:
    """The credential ``key`` of ``source``, or a ConnectorError saying where to add it."""
    value = credentials.get(key)
    if not value:
        raise ConnectorError(source, f"no {key}", fix=f"Add {key} under [{source}] in credentials.toml")
    return value
