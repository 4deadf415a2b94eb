"""HubSpot's error bodies, as the v3 APIs send them.

Every error is JSON ``{status: "error", message, correlationId, category, ...}``;
rate-limit errors instead carry ``errorType: "RATE_LIMIT"`` and a ``policyName``
(``TEN_SECONDLY_ROLLING`` or ``DAILY``).  Batch endpoints embed the same shape
(``StandardError``) once per failed input, where the official client insists on
``context``, ``links`` and ``errors`` being present.

Categories used here: ``INVALID_AUTHENTICATION``, ``EXPIRED_AUTHENTICATION``,
``MISSING_SCOPES``, ``OBJECT_NOT_FOUND``, ``VALIDATION_ERROR``,
``OBJECT_ALREADY_EXISTS``, ``INTERNAL_ERROR``.
"""

from __future__ import annotations

import json
import uuid

from connectors.sandbox.http import Response

SCOPES_URL = "https://developers.hubspot.com/scopes"


def correlation_id() -> str:
    return str(uuid.uuid4())


def error(status: int, category: str, message: str, **extra) -> Response:
    """A plain HubSpot error response."""
    body = {"status": "error", "message": message, "correlationId": correlation_id(), "category": category}
    body.update(extra)
    return Response(status, body)


def unauthorized() -> Response:
    return error(401, "INVALID_AUTHENTICATION",
                 "Authentication credentials not found. This API supports OAuth 2.0 authentication and "
                 "you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview")


def expired() -> Response:
    return error(401, "EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired 0 day(s) ago.")


def missing_scopes(required: tuple[str, ...]) -> Response:
    """403 naming the scopes any one of which would have allowed the call."""
    return error(403, "MISSING_SCOPES",
                 "This app hasn't been granted all required scopes to make this call. "
                 f"Read more about required scopes here: {SCOPES_URL}.",
                 errors=[{"message": "One or more of the following scopes are required.",
                          "context": {"requiredGranularScopes": list(required)}}],
                 links={"scopes": SCOPES_URL})


def not_found(message: str = "resource not found", **context) -> Response:
    return error(404, "OBJECT_NOT_FOUND", message, **({"context": context} if context else {}))


def invalid(message: str, **context) -> Response:
    """400 VALIDATION_ERROR (bad body, out-of-range limit, search window too deep...)."""
    return error(400, "VALIDATION_ERROR", message, **({"context": context} if context else {}))


def already_exists(message: str) -> Response:
    return error(409, "OBJECT_ALREADY_EXISTS", message)


def rate_limited(policy: str, headers: dict[str, str] | None = None) -> Response:
    """429 for the ten-second rolling window or the daily allowance."""
    window = "daily" if policy == "DAILY" else policy.lower()
    body = {"status": "error", "message": f"You have reached your {window} limit.",
            "errorType": "RATE_LIMIT", "correlationId": correlation_id(), "policyName": policy}
    return Response(429, body, dict(headers or {}))


def server_error() -> Response:
    return error(500, "INTERNAL_ERROR", "internal error")


def property_problem(name: str, code: str, value: str) -> dict:
    """One entry of HubSpot's ``Property values were not valid`` list."""
    texts = {
        "PROPERTY_DOESNT_EXIST": f'Property "{name}" does not exist',
        "READ_ONLY_VALUE": f'"{name}" is a read only property; its value cannot be set.',
        "INVALID_OPTION": f'{value!r} was not one of the allowed options for "{name}"',
        "INVALID_DECIMAL": f'{value!r} is not a valid number for "{name}"',
        "INVALID_DATE": f'{value!r} is not a valid date for "{name}"',
        "INVALID_BOOLEAN": f'{value!r} is not a valid boolean for "{name}"',
    }
    text = texts.get(code, f'invalid value for "{name}"')
    return {"isValid": False, "message": text, "error": code, "name": name, "localizedErrorMessage": text}


def batch_error(category: str, message: str, ids: list[str], details: list[dict] | None = None) -> dict:
    """One ``StandardError`` inside a 207 batch response."""
    context: dict[str, list[str]] = {"ids": ids}
    for detail in details or ():
        context.setdefault("propertyName", []).append(detail["name"])
    return {"status": "error", "category": category, "message": message, "context": context,
            "links": {}, "errors": [{"message": d["message"], "code": d["error"],
                                     "context": {"propertyName": [d["name"]]}} for d in details or ()]}


def property_errors_message(problems: list[dict]) -> str:
    return "Property values were not valid: " + json.dumps(problems)
