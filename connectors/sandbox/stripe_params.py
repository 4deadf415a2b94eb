"""Stripe request parameters and error bodies.

Stripe encodes nested parameters with brackets, in the query string for GETs
and in a form body for POSTs: ``expand[0]=data.customer`` (stripe-python
indexes arrays), ``expand[]=...`` (curl style), ``created[gte]=1700000000``,
``metadata[crm_account_id]=A-1``.  :func:`nest` turns those into Python lists
and dicts; :class:`ListParams` validates the paging parameters every list
endpoint shares.

Every error is Stripe's body ``{"error": {"type", "message", "code", "param"}}``;
4xx validation errors carry ``Stripe-Should-Retry: false`` so clients do not
retry a request that can never succeed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from connectors.sandbox.http import Response

_BRACKETS = re.compile(r"\[([^\]]*)\]")
CREATED_OPS = {"gt": lambda v, b: v > b, "gte": lambda v, b: v >= b,
               "lt": lambda v, b: v < b, "lte": lambda v, b: v <= b}


class StripeError(Exception):
    """Raised inside the emulator; becomes Stripe's error response."""

    def __init__(self, status: int, message: str, *, type_: str = "invalid_request_error",
                 code: str | None = None, param: str | None = None,
                 should_retry: bool | None = False) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.code, self.param = status, message, type_, code, param
        self.should_retry = should_retry

    def response(self) -> Response:
        error: dict[str, Any] = {"type": self.type, "message": self.message}
        if self.code:
            error["code"] = self.code
        if self.param:
            error["param"] = self.param
        headers = {}
        if self.should_retry is not None:
            headers["Stripe-Should-Retry"] = "true" if self.should_retry else "false"
        return Response(self.status, {"error": error}, headers)


def nest(flat: dict[str, list[str]]) -> dict[str, Any]:
    """``{"a[b]": ["1"], "c[0]": ["x"], "c[1]": ["y"]}`` → ``{"a": {"b": "1"}, "c": ["x", "y"]}``."""
    root: dict[str, Any] = {}
    for raw_key, values in flat.items():
        head = raw_key.split("[", 1)[0]
        parts = [head] + _BRACKETS.findall(raw_key[len(head):])
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise StripeError(400, f"Invalid parameter nesting: {raw_key}", param=raw_key)
        last = parts[-1]
        if last == "":
            node.setdefault("", []).extend(values)
        else:
            node[last] = values[-1]
    return _listify(root)


def _listify(node: Any) -> Any:
    """Dicts keyed by array indexes (or the ``[]`` marker) become lists."""
    if not isinstance(node, dict):
        return node
    if set(node) == {""}:
        return list(node[""])
    if node and all(key.isdigit() for key in node):
        return [_listify(node[key]) for key in sorted(node, key=int)]
    return {key: _listify(value) for key, value in node.items()}


def as_list(value: Any, param: str) -> list[str]:
    """An array parameter (a single bare value counts as a one-item array)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise StripeError(400, "Invalid array", param=param)


def _int(value: Any, param: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    raise StripeError(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param)


@dataclass
class ListParams:
    """The parameters every Stripe list endpoint shares."""

    limit: int = 10
    starting_after: str | None = None
    ending_before: str | None = None
    created: dict[str, int] = field(default_factory=dict)
    expand: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, params: dict[str, Any]) -> "ListParams":
        limit = _int(params.get("limit", "10"), "limit")
        if not 1 <= limit <= 100:
            raise StripeError(400, "This value must be greater than or equal to 1 and less than "
                              "or equal to 100.", code="parameter_invalid_integer", param="limit")
        if params.get("starting_after") and params.get("ending_before"):
            raise StripeError(400, "You may only specify one of these parameters: ending_before, "
                              "starting_after.", param="starting_after")
        return cls(limit, params.get("starting_after") or None, params.get("ending_before") or None,
                   parse_created(params.get("created")), as_list(params.get("expand"), "expand"))

    def created_ok(self, created: int) -> bool:
        return all(CREATED_OPS[op](created, bound) for op, bound in self.created.items())


def parse_created(value: Any) -> dict[str, int]:
    """``created=T`` (exact) or ``created[gte|gt|lte|lt]=T``."""
    if value is None:
        return {}
    if isinstance(value, str):
        exact = _int(value, "created")
        return {"gte": exact, "lte": exact}
    if not isinstance(value, dict) or not set(value) <= set(CREATED_OPS):
        raise StripeError(400, "Invalid created filter: use created[gt|gte|lt|lte]=<unix seconds>",
                          param="created")
    return {op: _int(bound, f"created[{op}]") for op, bound in value.items()}
