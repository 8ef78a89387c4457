"""Sessions end at logout and at a password change; a login link dies with the password it was
issued under; changing a password asks for the current one."""
from __future__ import annotations

import re

from tests.integration.helpers import login, outbox

EDITOR, PASSWORD = "redaction@reaap.test", "mdp-redaction"


def stolen_copy(app, client):
    """Another browser holding the same session cookie (copied, or stolen)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def test_logout_ends_the_session_even_for_a_copy_of_its_cookie(app, world):
    client = app.test_client()
    login(client, EDITOR, PASSWORD)
    thief = stolen_copy(app, client)
    assert thief.get("/redaction/").status_code == 200
    client.post("/deconnexion")
    assert client.get("/redaction/").status_code == 302
    response = thief.get("/redaction/")
    assert response.status_code == 302 and response.location.startswith("/connexion")


def test_a_password_change_ends_every_other_session_and_keeps_this_one(app, world):
    client, elsewhere = app.test_client(), app.test_client()
    login(client, EDITOR, PASSWORD)
    login(elsewhere, EDITOR, PASSWORD)
    thief = stolen_copy(app, client)
    response = client.post("/connexion/mot-de-passe", data={
        "current_password": PASSWORD, "password": "une nouvelle phrase", "password_confirm": "une nouvelle phrase"})
    assert response.status_code == 302
    assert client.get("/redaction/").status_code == 200
    assert elsewhere.get("/redaction/").status_code == 302
    assert thief.get("/redaction/").status_code == 302
    login(app.test_client(), EDITOR, "une nouvelle phrase")


def test_changing_the_password_asks_for_the_current_one(app, world, db):
    from accounts.auth import authenticate
    client = app.test_client()
    login(client, EDITOR, PASSWORD)
    for current in ("", "pas le bon"):
        response = client.post("/connexion/mot-de-passe", data={
            "current_password": current, "password": "une nouvelle phrase", "password_confirm": "une nouvelle phrase"})
        assert response.status_code == 422
        assert "mot de passe actuel" in response.get_data(as_text=True)
    assert authenticate(db, EDITOR, PASSWORD) is not None
    assert "current_password" in client.get("/connexion/mot-de-passe").get_data(as_text=True)


def test_a_login_link_issued_before_a_password_change_no_longer_works(app, world, db, captured_jobs):
    client = app.test_client()
    client.post("/connexion/lien", data={"email": EDITOR})
    [mail] = outbox(db, "login_link")
    path = re.search(r"https?://[^/\s]+(/connexion/lien/[\w.-]+)", mail.text_body).group(1)
    assert client.get(path).status_code == 200  # still valid
    other = app.test_client()
    login(other, EDITOR, PASSWORD)
    assert other.post("/connexion/mot-de-passe", data={
        "current_password": PASSWORD, "password": "une nouvelle phrase",
        "password_confirm": "une nouvelle phrase"}).status_code == 302
    assert client.get(path).status_code in (400, 410)
    assert client.post(path).status_code in (400, 410)
    assert client.get("/redaction/").status_code == 302
