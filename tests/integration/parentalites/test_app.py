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


# --- Numbers in URLs and arguments: a 4xx or ignored, never a 500 -----------------------------------

HUGE = "99999999999999999999999"


def test_a_huge_number_in_a_path_an_argument_or_a_form_is_never_a_500(app, db, world):
    from tests.integration.helpers import login, make_event
    event = make_event(db)
    client = app.test_client()
    login(client, "redaction@reaap.test", "mdp-redaction")
    gets = [f"/actions/?page={HUGE}", "/actions/?page=1e400", "/actions/?page=-5", f"/actions/{HUGE}/",
            f"/redaction/moderation/?structure={HUGE}", "/redaction/moderation/?structure=1e400",
            f"/redaction/moderation/?structure=-{HUGE}", "/redaction/moderation/?structure=²",
            f"/redaction/moderation/{HUGE}", f"/agenda/{HUGE}/", f"/lettres/{HUGE}/", f"/redaction/numeros/{HUGE}",
            f"/redaction/evenements/{HUGE}/inscriptions", f"/fichiers/{HUGE}", f"/redaction/structures/{HUGE}",
            f"/redaction/evenements/{event.id}/inscriptions?structure={HUGE}"]
    for url in gets:
        status = client.get(url).status_code
        assert status < 500, (url, status)
    posts = [(f"/redaction/evenements/{event.id}/presences", {"shown": [HUGE, "²", "3"], "present": [HUGE, "٣"]}),
             (f"/redaction/numeros/{HUGE}/envoyer", {"confirm": "1"})]
    for url, data in posts:
        status = client.post(url, data=data).status_code
        assert status < 500, (url, status)


# --- Security headers ------------------------------------------------------------------------------

def _inline_elements(page: str):
    from lxml import html as lxml_html
    tree = lxml_html.fromstring(page)
    scripts = [e for e in tree.iter("script") if not e.get("src")]
    styles = list(tree.iter("style"))
    handlers = [(e.tag, name) for e in tree.iter() if isinstance(e.tag, str) for name in e.attrib
                if name.lower().startswith("on")]
    styled = [e.tag for e in tree.iter() if isinstance(e.tag, str) and e.get("style") is not None]
    return scripts + styles, handlers, styled


def test_every_page_has_a_content_security_policy_and_inline_code_only_with_its_nonce(app, db, world):
    import re

    from tests.integration.helpers import login, make_event
    event = make_event(db)
    visitor, editor = app.test_client(), app.test_client()
    login(editor, "redaction@reaap.test", "mdp-redaction")
    pages = [(visitor, "GET", "/", None), (visitor, "GET", "/connexion", None), (visitor, "GET", "/abonnement", None),
             (visitor, "POST", "/connexion/lien", {"email": ""}),
             (visitor, "POST", "/abonnement", {"email": "x"}),
             (visitor, "GET", "/agenda/", None), (visitor, "GET", f"/agenda/{event.id}/", None),
             (visitor, "GET", "/actions/", None), (visitor, "GET", "/page-qui-n-existe-pas", None),
             (editor, "GET", "/redaction/", None),
             (editor, "GET", f"/redaction/evenements/{event.id}/emargement", None),
             (editor, "GET", f"/redaction/evenements/{event.id}/inscriptions", None),
             (editor, "GET", "/redaction/evenements/", None), (editor, "GET", "/redaction/moderation/", None)]
    for client, method, url, data in pages:
        response = client.open(url, method=method, data=data)
        policy = response.headers.get("Content-Security-Policy", "")
        assert "default-src 'self'" in policy and "object-src 'none'" in policy, (url, policy)
        assert "frame-ancestors 'self'" in policy and "base-uri 'self'" in policy, (url, policy)
        script_src = re.search(r"script-src ([^;]*)", policy).group(1)
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, (url, policy)
        nonce = re.search(r"'nonce-([A-Za-z0-9+/=_-]+)'", script_src).group(1)
        inline, handlers, styled = _inline_elements(response.get_data(as_text=True))
        assert all(e.get("nonce") == nonce for e in inline), (url, [e.tag for e in inline if e.get("nonce") != nonce])
        assert not handlers and not styled, (url, handlers, styled)
    # A fresh nonce per response.
    first, second = (visitor.get("/").headers["Content-Security-Policy"] for _ in range(2))
    assert first != second


def test_an_email_shown_as_a_page_runs_no_script(app, db, world):
    from tests.integration.helpers import compose, login
    issue = compose(db, world, articles=1)
    editor = app.test_client()
    login(editor, "redaction@reaap.test", "mdp-redaction")
    response = editor.get(f"/redaction/numeros/{issue.id}/apercu/email")
    policy = response.headers["Content-Security-Policy"]
    assert "script-src 'none'" in policy or ("default-src 'none'" in policy and "script-src" not in policy), policy


def test_hsts_only_when_the_site_is_served_over_https(db, monkeypatch):
    from parentalites.app import create_app
    for base_url, expected in (("https://lettre.example", True), ("http://127.0.0.1:8000", False)):
        monkeypatch.setenv("BASE_URL", base_url)
        reset_settings()
        response = create_app({"TESTING": True}).test_client().get("/")
        assert ("max-age=" in response.headers.get("Strict-Transport-Security", "")) is expected, base_url
    monkeypatch.undo()
    reset_settings()


# --- Access logs: the route, never a token ---------------------------------------------------------

def test_the_access_log_names_the_route_not_the_token_in_the_url(app, db, world, caplog):
    import logging
    secret = "SECRETTOKEN.abc-123_zz"
    client = app.test_client()
    with caplog.at_level(logging.INFO):
        for url in (f"/connexion/lien/{secret}", f"/desabonnement/{secret}", f"/preferences/{secret}",
                    f"/abonnement/confirmer/{secret}", f"/agenda/inscription/{secret}",
                    f"/connexion/lien/{secret}?x={secret}"):
            client.get(url)
    assert secret not in caplog.text
    access = [r for r in caplog.records if r.name == "parentalites.access"]
    assert any("/connexion/lien/<token>" in r.getMessage() for r in access), [r.getMessage() for r in access]
    assert any("/desabonnement/<token>" in r.getMessage() for r in access)


# --- Internationalised addresses: refused where they are taken, in French ----------------------------

JOSE = "josé@exemple.org"
REFUSAL = "accent ou un caractère non latin avant le « @ »"


def test_an_address_with_an_accent_before_the_at_sign_is_refused_everywhere_it_is_taken(app, db, world,
                                                                                         captured_jobs):
    from sqlalchemy import func, select

    from accounts.models import User
    from events.models import Registration
    from mailing.models import OutboundEmail
    from subscribers.models import Subscriber
    from tests.integration.helpers import compose, login, make_event
    event = make_event(db, capacity=10)
    issue = compose(db, world, articles=1)
    visitor, editor = app.test_client(), app.test_client()
    login(editor, "redaction@reaap.test", "mdp-redaction")
    response = visitor.post("/abonnement", data={"email": JOSE, "name": "José", "consent": "y"})
    assert response.status_code == 422 and REFUSAL in response.get_data(as_text=True)
    response = visitor.post(f"/agenda/{event.id}/", data={"name": "José", "email": JOSE, "party_size": "1",
                                                         "consent": "y"})
    assert response.status_code == 422 and REFUSAL in response.get_data(as_text=True)
    response = editor.post(f"/redaction/structures/{world['tilleuls'].id}/inviter",
                           data={"email": JOSE, "name": "José"})
    assert response.status_code == 422 and REFUSAL in response.get_data(as_text=True)
    response = editor.post(f"/redaction/numeros/{issue.id}/test", data={"address": JOSE}, follow_redirects=True)
    assert REFUSAL in response.get_data(as_text=True)
    response = editor.post(f"/redaction/evenements/{event.id}/inviter/test", data={"address": JOSE},
                           follow_redirects=True)
    assert REFUSAL in response.get_data(as_text=True)
    db.expire_all()
    assert db.scalar(select(func.count(Subscriber.id)).where(Subscriber.email.like("jos%"))) == 0
    assert db.scalar(select(func.count(Registration.id))) == 0
    assert db.scalar(select(func.count(User.id)).where(User.email.like("jos%"))) == 0
    assert db.scalar(select(func.count(OutboundEmail.id)).where(OutboundEmail.to_addr.like("jos%"))) == 0


def test_an_internationalised_domain_is_kept_in_its_ascii_form(app, db, captured_jobs):
    from subscribers.services import normalize_email
    assert normalize_email("Marie@Exemple-É.fr") == "marie@" + "exemple-é.fr".encode("idna").decode()
    assert normalize_email("Marie@Exemple-É.fr").isascii()
