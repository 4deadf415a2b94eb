"""The one paginate loop, and the small strategies that say where the next page is.

Each vendor hands back "the rest" differently — Salesforce a ``nextRecordsUrl``, HubSpot
``paging.next.after``, Stripe ``has_more`` plus the last id for ``starting_after`` — so a
paginator is a tiny object with two methods: the items of a response and the token for
the next request (None when done). :func:`paginate` owns the loop and refuses to go
round in circles: a token seen twice means the vendor (or our request) is broken, and
looping would burn the API budget forever.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Protocol


class PaginationLoop(RuntimeError):
    """The same page token came back twice."""


@dataclass
class Page:
    items: list[dict]
    response: Any
    token: str | None          # the token that fetched this page (None for the first)
    next_token: str | None


class Paginator(Protocol):
    def items(self, response: Any) -> list[dict]: ...
    def next_token(self, response: Any, items: list[dict]) -> str | None: ...


def _get(obj: Any, key: str) -> Any:
    """Read a key from a dict or an attribute from a client model object."""
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


class NextUrl:
    """Salesforce query results: ``records`` until ``done``, continued at ``nextRecordsUrl``."""

    def items(self, response: Any) -> list[dict]:
        return list(_get(response, "records") or [])

    def next_token(self, response: Any, items: list[dict]) -> str | None:
        return None if _get(response, "done") else _get(response, "nextRecordsUrl")


class AfterCursor:
    """HubSpot CRM lists and searches: ``results`` continued at ``paging.next.after``."""

    def items(self, response: Any) -> list[dict]:
        return list(_get(response, "results") or [])

    def next_token(self, response: Any, items: list[dict]) -> str | None:
        nxt = _get(_get(response, "paging"), "next")
        return _get(nxt, "after") if nxt else None


class IdFloor:
    """HubSpot searches paged by raising an ``hs_object_id > floor`` filter to the last id
    seen, rather than by the ``after`` offset that stops at 10,000 results."""

    def items(self, response: Any) -> list[dict]:
        return list(_get(response, "results") or [])

    def next_token(self, response: Any, items: list[dict]) -> str | None:
        return _get(items[-1], "id") if _get(_get(response, "paging"), "next") and items else None


class StartingAfter:
    """Stripe lists: ``data`` continued after the last item's id while ``has_more``.
    With ``backwards`` (``ending_before`` paging, used to walk events forward in time) the
    next token is the first item's id, since each page is newest-first."""

    def __init__(self, backwards: bool = False):
        self.backwards = backwards

    def items(self, response: Any) -> list[dict]:
        return list(_get(response, "data") or [])

    def next_token(self, response: Any, items: list[dict]) -> str | None:
        if not _get(response, "has_more") or not items:
            return None
        return _get(items[0 if self.backwards else -1], "id")


def paginate(fetch: Callable[[str | None], Any], paginator: Paginator, start: str | None = None) -> Iterator[Page]:
    """Yield pages from ``fetch(token)`` until the paginator says done."""
    seen: set[str] = set()
    token = start
    while True:
        response = fetch(token)
        items = paginator.items(response)
        nxt = paginator.next_token(response, items)
        yield Page(items, response, token, nxt)
        if nxt is None:
            return
        if nxt in seen or nxt == token:
            raise PaginationLoop(f"page token {nxt!r} returned twice; stopping to protect the API budget")
        seen.add(nxt)
        token = nxt


def put_unless_stopped(out: queue.Queue, item: Any, stop: threading.Event) -> bool:
    """Hand ``item`` to a bounded queue's consumer, giving up (False) once ``stop`` is set,
    so a reader thread never blocks forever on a consumer that has gone."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def paginate_windows(fetch: Callable[[int, str | None], Any], paginator: Paginator, starts: list[str | None],
                     workers: int) -> Iterator[tuple[int, Page]]:
    """Page through several independent listings (windows) at once: window ``i`` is
    ``fetch(i, token)`` from ``starts[i]``, paged serially as :func:`paginate` does, and up
    to ``workers`` windows are in flight. Yields ``(i, page)`` as pages arrive; the pages
    of one window arrive in order, so a caller can keep a resumable token per window.

    Worth it when one listing's round trips, not the vendor's rate limit, set the pace.
    The first error stops every window and is raised here; closing the generator stops
    the threads after their current request."""
    out: queue.Queue = queue.Queue(maxsize=2 * max(1, workers))
    stop = threading.Event()
    todo = list(range(len(starts)))
    lock = threading.Lock()
    done_marker = object()

    def put(item: Any) -> bool:
        return put_unless_stopped(out, item, stop)

    def work() -> None:
        try:
            while not stop.is_set():
                with lock:
                    if not todo:
                        break
                    i = todo.pop(0)
                for page in paginate(lambda tok, i=i: fetch(i, tok), paginator, starts[i]):
                    if not put((i, page)):
                        return
        except BaseException as exc:  # handed to the consumer, which raises it
            put(exc)
        put(done_marker)

    threads = [threading.Thread(target=work, daemon=True, name=f"pages-{n}") for n in range(max(1, min(workers, len(starts))))]
    for t in threads:
        t.start()
    running = len(threads)
    try:
        while running:
            item = out.get()
            if item is done_marker:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=60)
