"""Shared pytest fixtures: the synthetic book and one in-process sandbox.

``sandbox`` is session-scoped (one server process for the whole run, three
emulators on ephemeral 127.0.0.1 ports, HTTPS with a throwaway CA).  A test
that changes faults must put them back: use ``sandbox_faults`` which resets
every emulator's faults (and clears stats) after the test.  State written by
one test (e.g. a write-back) stays visible to later tests, as it would in a
real org; tests needing pristine data build their own ``Sandbox``.
"""

from __future__ import annotations

import pytest

from connectors.sandbox.faults import FaultConfig

SANDBOX_ACCOUNTS = 120
SANDBOX_SEED = 7


@pytest.fixture(scope="session")
def sandbox_book():
    """A small deterministic book (120 accounts) shared by the sandbox tests."""
    from connectors.sandbox.book import generate_book

    return generate_book(accounts=SANDBOX_ACCOUNTS, seed=SANDBOX_SEED)


@pytest.fixture(scope="session")
def sandbox(sandbox_book):
    """Salesforce, HubSpot and Stripe emulators serving ``sandbox_book``."""
    from connectors.sandbox.app import Sandbox

    with Sandbox(sandbox_book) as running:
        yield running


@pytest.fixture
def sandbox_faults(sandbox):
    """The shared sandbox; every emulator's faults and stats are reset afterwards."""
    yield sandbox
    for name in sandbox.servers:
        sandbox.set_faults(name, FaultConfig())
    sandbox.clear_stats()
