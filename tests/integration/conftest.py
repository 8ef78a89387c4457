"""The integration tier: the real stack (tests/stack.py) — the run's PostgreSQL database, Redis,
real Celery worker processes, aiosmtpd. Every test here is marked `integration`, and the stack is
checked before the first of them: a missing PostgreSQL or Redis ends the run with what is missing.
"""
from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session", autouse=True)
def real_stack(run_database):
    """Every integration test runs on the real stack, checked before the first (or the run ends)."""


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.integration)
