"""Sessions end at logout and at a password change; a login link dies with the password it was
issued under; changing a password asks for the current one."""
from __future__ import annotations

import re

from tests.integration.helpers import login, outbox, run_login_link_jobs

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
    run_login_link_jobs(db, captured_jobs)
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


def test_asking_for_a_login_link_does_the_same_work_and_answers_the_same_bytes_for_any_address(
        app, world, db, captured_jobs):
    from sqlalchemy import event

    from accounts.auth import LOGIN_LINK_TASK
    from core.db import get_engine
    world["other"].active = False
    db.commit()
    statements: list[str] = []

    def record(conn, cursor, statement, *args):
        statements.append(statement.split()[0].upper())
    event.listen(get_engine(), "before_cursor_execute", record)
    try:
        seen = []
        for address in ("amina@tilleuls.test", "personne@nulle.part", "julien@asso.test"):  # active, none, closed
            statements.clear()
            del captured_jobs[:]
            response = app.test_client().post("/connexion/lien", data={"email": address})
            seen.append((response.status_code, response.get_data(), list(statements),
                         [name for name, _args in captured_jobs]))
    finally:
        event.remove(get_engine(), "before_cursor_execute", record)
    assert seen[0][0] == 200 and seen[0][3] == [LOGIN_LINK_TASK]
    assert seen[1] == seen[0] and seen[2] == seen[0]  # same status, same bytes, same SQL, same job


def test_a_worker_sends_the_login_link_and_nothing_for_an_unknown_address(app, world, smtp, celery_worker):
    from tests.integration.helpers import wait_for
    client = app.test_client()
    client.post("/connexion/lien", data={"email": "personne@nulle.part"})
    client.post("/connexion/lien", data={"email": "amina@tilleuls.test"})
    [received] = wait_for(lambda: smtp.to("amina@tilleuls.test"), message="the login link")
    assert "/connexion/lien/" in received.message.get_body(("plain",)).get_content()
    assert not smtp.to("personne@nulle.part")
