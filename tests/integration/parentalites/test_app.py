"""The web application's guards as a browser meets them: proxy headers, security headers, access
logs, and request arguments that are no sane number."""
from __future__ import annotations

import pytest

from core.settings import reset_settings


@pytest.fixture
def limited_app(db, monkeypatch):
    """The application with its rate limits on (the `app` fixture turns them off)."""
    from parentalites.app import create_app

    def make(trusted: str | None = None):
        if trusted is None:
            monkeypatch.delenv("TRUSTED_PROXIES", raising=False)
        else:
            monkeypatch.setenv("TRUSTED_PROXIES", trusted)
        reset_settings()
        return create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": True,
                           "RATELIMIT_STORAGE_URI": "memory://"})
    yield make
    monkeypatch.undo()
    reset_settings()


def login_attempts(app, peer: str, forwarded: list[str]) -> list[int]:
    client = app.test_client()
    return [client.post("/connexion", data={"email": "x@example.org", "password": "faux"},
                        environ_base={"REMOTE_ADDR": peer}, headers={"X-Forwarded-For": address}).status_code
            for address in forwarded]


def test_a_forged_x_forwarded_for_does_not_reset_the_login_rate_limit(limited_app):
    statuses = login_attempts(limited_app(), "198.51.100.7", [f"203.0.113.{n}" for n in range(12)])
    assert statuses[:10] == [200] * 10 and statuses[10:] == [429, 429]


def test_behind_a_trusted_proxy_each_client_has_its_own_limit(limited_app):
    app = limited_app("10.0.0.2")
    assert login_attempts(app, "10.0.0.2", [f"203.0.113.{n}" for n in range(12)]) == [200] * 12
    # A client of the proxy that forges the header still gets its own address counted.
    statuses = login_attempts(app, "10.0.0.2", [f"1.1.1.{n}, 198.51.100.99" for n in range(12)])
    assert statuses[10:] == [429, 429]
