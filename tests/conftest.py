"""What every tier may use: the paths, `shared_path`, the run's environment, `captured_jobs`.

Three tiers, one directory each (see README, "Tests"):
  tests/unit/         no server at all (its conftest refuses connections to one)
  tests/integration/  the real stack: PostgreSQL, Redis, Celery worker processes, aiosmtpd
  tests/browser/      Playwright driving Debian's Chromium on the real stack

The environment is set here, before any project module is imported, because the settings and the
Celery app read it once. It is only strings: nothing here connects to anything. The real stack's
fixtures are in tests/stack.py; only the integration and browser tiers use them.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

# The fixtures of the real stack, defined once for the two tiers that use them: a session-scoped
# fixture defined in two conftests would run twice (two databases, two workers). pytest only
# takes `pytest_plugins` from the root conftest. They connect when a test asks for them, never at
# import or at session start.
pytest_plugins = ["tests.stack"]

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared"
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/12")
RUN_ID = secrets.token_hex(4)
TEST_DB = f"parentalites_test_{RUN_ID}"
DATA_DIR = Path(os.environ.get("TEST_DATA_DIR", f"/tmp/parentalites-tests-{RUN_ID}"))


def pg_url(database: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{database}"


os.environ.update({
    "PARENTALITES_DATA_DIR": str(DATA_DIR),
    "DATABASE_URL": pg_url(TEST_DB),   # created by the integration tiers' `database` fixture
    "CELERY_BROKER_URL": REDIS_URL,
    "CELERY_QUEUE": f"parentalites-test-{RUN_ID}",  # several test runs may share one Redis
    "SECRET_KEY": "test-secret-key-" + RUN_ID,
    "BASE_URL": "https://parentalites.test",
    "MAIL_FROM": "Lettre Parentalités <lettre@parentalites.test>",
    "MAILOUT_BATCH_SIZE": "7",       # small batches, so that a test crosses several of them
    "MAILOUT_STALE_AFTER": "20",
    "SMTP_URL": "smtp://127.0.0.1:1",  # replaced by the smtp_server fixture's port
    "FEED_ALLOWED_NETWORKS": "127.0.0.1/32",  # the feed tests' HTTP servers; 127.0.0.2 and the rest stay refused
    # Webhooks (tests/integration/parentalites/test_webhooks.py): quick retries, few attempts.
    "WEBHOOK_TIMEOUT": "1.5",
    "WEBHOOK_RETRY_DELAY": "0.5",
    "WEBHOOK_MAX_ATTEMPTS": "3",
    "WEBHOOK_FAILURE_THRESHOLD": "5",
})


def shared_path(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (../shared/ is not beside this checkout)")
    return path


@pytest.fixture
def captured_jobs():
    """Jobs enqueued by services, captured instead of sent to the broker."""
    import parentalites.celery_app  # noqa: F401  the tasks register their names on import
    from core import jobs
    previous = jobs._sender
    captured: list[tuple[str, tuple]] = []
    jobs.set_sender(lambda name, args, options: captured.append((name, tuple(args))))
    yield captured
    jobs.set_sender(previous)
@pytest.fixture
def reread_settings(monkeypatch):
    """Call it after monkeypatch.setenv: the settings are read again. Once the test is over the
    environment is restored and the settings are forgotten, so no other test sees the change."""
    from core.settings import reset_settings
    yield reset_settings
    monkeypatch.undo()
    reset_settings()


