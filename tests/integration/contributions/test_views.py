"""The editor's moderation views against text a browser or a feed can carry."""
from __future__ import annotations

import pytest

from contributions import services
from contributions.models import ContributionKind as K
from contributions.models import ContributionStatus as S
from mailing.models import OutboundEmail
from tests.integration.helpers import login

NONCHARACTERS = "\ufffe\uffff\ufdd0\ufdef\U0001fffe\U0010ffff"


@pytest.mark.parametrize("decision", [S.accepted, S.changes_requested, S.rejected])
def test_a_title_with_unicode_noncharacters_never_breaks_a_moderation_decision(decision, app, db, world):
    c = services.create(db, world["partner"], services.ContributionData(
        kind=K.actualite, title=f"Atelier{NONCHARACTERS} parents\ufffe", body_md=f"Du texte\ufffe{NONCHARACTERS}."))
    db.commit()
    assert not set(NONCHARACTERS) & set(c.title + c.body_md), "non-characters are stripped when stored"
    editor = app.test_client()
    login(editor, "redaction@reaap.test", "mdp-redaction")
    assert editor.get(f"/redaction/moderation/{c.id}").status_code == 200
    response = editor.post(f"/redaction/moderation/{c.id}", data={"decision": decision.value, "comment": "Merci !"})
    assert response.status_code == 302, response.get_data(as_text=True)[:800]
    db.expire_all()
    assert c.status is decision
    mails = db.query(OutboundEmail).filter(OutboundEmail.template == "moderation_decision").all()
    assert mails and not set(NONCHARACTERS) & set(mails[-1].subject + mails[-1].text_body)


def test_a_title_stored_with_a_noncharacter_before_the_cleaning_still_gets_its_decision(app, db, world):
    c = services.create(db, world["partner"], services.ContributionData(kind=K.actualite, title="Atelier", body_md="x"))
    c.title = "Atelier\ufffe d'hier"  # written by an older version, or straight into the database
    db.commit()
    editor = app.test_client()
    login(editor, "redaction@reaap.test", "mdp-redaction")
    response = editor.post(f"/redaction/moderation/{c.id}", data={"decision": S.accepted.value})
    assert response.status_code == 302, response.get_data(as_text=True)[:800]


def test_an_encoded_line_break_in_a_title_adds_no_header_nor_body_to_the_moderation_email(
        app, db, world, smtp, celery_worker):
    from tests.integration.helpers import wait_for
    title = "Atelier =?utf-8?q?=0D=0AReply-To:_pirate@evil.example=0D=0A=0D=0ACorps_pirate?= fin"
    c = services.create(db, world["partner"], services.ContributionData(kind=K.actualite, title=title, body_md="x"))
    db.commit()
    editor = app.test_client()
    login(editor, "redaction@reaap.test", "mdp-redaction")
    assert editor.post(f"/redaction/moderation/{c.id}", data={"decision": S.accepted.value}).status_code == 302
    [received] = wait_for(lambda: smtp.to("amina@tilleuls.test"), message="the moderation e-mail")
    message = received.message
    assert message["Reply-To"] is None
    head = received.data.split(b"\r\n\r\n", 1)[0].decode("ascii", "replace")
    assert not [line for line in head.splitlines() if line.lower().startswith("reply-to")]
    assert "Reply-To: pirate@evil.example" in " ".join(str(message["Subject"]).split())
    assert "\n" not in str(message["Subject"])
