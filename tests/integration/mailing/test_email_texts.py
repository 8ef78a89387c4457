"""The editors' texts of transactional e-mails (/redaction/modeles, issue 11 item 6): edit, preview,
test send through the outbox and real SMTP, back to the default; sandboxed Jinja whose bad input is
refused with a French message and never saved; and a saved text that fails at send time never stops
the e-mail (the default text leaves, the failure is logged)."""
from __future__ import annotations

import html
import logging

import pytest
from sqlalchemy import select

from accounts import auth
from accounts.models import JournalEntry
from mailing.models import EmailTemplateOverride, OutboundStatus
from mailing.outbox import send_outbound
from mailing.templates import render_email
from tests.integration.helpers import login, outbox

SUBJECT = "Connexion à la lettre, {{ user.name }}"
BODY = "Bonjour {{ user.name }},\n\nVotre lien ({{ minutes }} minutes) :\n{{ url }}\n\nÀ bientôt."


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def override(db, name="login_link") -> EmailTemplateOverride | None:
    db.expire_all()
    return db.get(EmailTemplateOverride, name)


def test_the_list_and_each_page_show_the_default_text_and_its_variables(client, db, world):
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = text(client.get("/redaction/modeles/"))
    for label in ("Lien de connexion", "Événement : rappel", "Appel à contributions", "Invitation d'un partenaire",
                  "Contribution : décision de la rédaction", "Abonnement : demande de confirmation"):
        assert label in page
    page = text(client.get("/redaction/modeles/event_reminder"))
    assert "Rappel : {{ event.title }}" in page          # the default subject, to edit
    assert "registration" in page and "manage_url" in page  # the variables offered
    assert "Rappel : Soirée-rencontre du Réaap" in page    # the preview with sample values
    frame = client.get("/redaction/modeles/event_reminder/apercu")
    assert frame.status_code == 200 and "default-src 'none'" in frame.headers["Content-Security-Policy"]
    assert client.get("/redaction/modeles/letter").status_code == 404  # not an editable e-mail


def test_an_edited_text_is_used_for_the_next_e_mails_with_real_values(client, db, world, captured_jobs):
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = client.post("/redaction/modeles/login_link", data={"subject": SUBJECT, "body": BODY,
                                                                   "action": "save"})
    assert response.status_code == 302
    saved = override(db)
    assert saved.subject == SUBJECT and saved.updated_by == "redaction@reaap.test"
    [entry] = db.scalars(select(JournalEntry).where(JournalEntry.action == "email_template.edited")).all()
    assert entry.target == "email_template:login_link"

    auth.send_login_link(db, "amina@tilleuls.test")
    db.commit()
    [mail] = outbox(db, "login_link")
    assert mail.subject == "Connexion à la lettre, Amina Benali"
    assert mail.text_body.startswith("Bonjour Amina Benali,\n\nVotre lien (15 minutes) :\nhttps://")
    assert '<a href="https://parentalites.test/connexion/lien/' in mail.html_body  # linked in the HTML part

    # Back to the default: the next e-mail has the default text again.
    assert client.post("/redaction/modeles/login_link/defaut").status_code == 302
    assert override(db) is None
    auth.send_login_link(db, "julien@asso.test")
    db.commit()
    assert outbox(db, "login_link")[-1].subject == "Votre lien de connexion à la lettre Parentalités"
    actions = [e.action for e in db.scalars(select(JournalEntry).order_by(JournalEntry.id))]
    assert actions == ["email_template.edited", "email_template.reset"]


def test_preview_shows_the_draft_with_sample_values_and_saves_nothing(client, db, world):
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = client.post("/redaction/modeles/login_link", data={"subject": SUBJECT, "body": BODY,
                                                                   "action": "preview"})
    page = text(response)
    assert response.status_code == 200 and "Connexion à la lettre, Amina Benali" in page
    assert override(db) is None


def test_a_test_send_goes_to_the_editor_through_the_outbox_and_smtp(client, db, world, smtp, captured_jobs):
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = client.post("/redaction/modeles/event_reminder", data={
        "subject": "Rappel : {{ event.title }}", "body": "Bonjour {{ registration.name }},\n\nÀ {{ event.place }}.",
        "action": "test"})
    assert response.status_code == 302
    assert override(db, "event_reminder") is None  # a test send saves nothing
    [mail] = outbox(db, "event_reminder")
    assert mail.to_addr == "redaction@reaap.test"
    assert send_outbound(db, mail.id) is OutboundStatus.sent
    db.commit()
    [received] = smtp.to("redaction@reaap.test")
    assert received.message["Subject"] == "[Essai] Rappel : Soirée-rencontre du Réaap : les écrans en famille"
    text = received.message.get_body(preferencelist=("plain",)).get_content()
    assert "Bonjour Zoé Lambert," in text and "À Centre social Les Tilleuls." in text
    assert db.scalar(select(JournalEntry).where(JournalEntry.action == "email_template.test_sent")) is not None


BAD = [
    ("{% import os %}", "« import » n'est pas permis"),
    ("{% import 'os' as os %}{{ os }}", "« import » n'est pas permis"),
    ("{{ ''.__class__.__mro__ }}", "n'est pas accessible"),
    ("{{ user.__class__ }}", "n'est pas accessible"),
    ("{% for i in range(10**9) %}x{% endfor %}", "range() est limité à 1000"),
    ("{% for i in range(1000) %}{% for j in range(1000) %}{% for k in range(1000) %}{% endfor %}{% endfor %}"
     "{% endfor %}", "trop de temps"),
    ("{{ 'x' * 10**8 }}", "Multiplication refusée"),
    ("{% for i in range(1000) %}{{ 'abcdefghij' * 900 }}{% endfor %}", "dépasse 50000 caractères"),
    ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "« macro » n'est pas permis"),
    ("{{ unknown }}", "variable inconnue « unknown »"),
    ("Bonjour,\n\n{{ user.nope }}", "Texte, ligne 3 : « nope » n'existe pas"),
    ("Bonjour,\n{% if user.name %}\nsans fin", "Texte, ligne 3 : la balise « if » n'est pas fermée"),
    ("{{ user.name|attr('__class__') }}", "filtre inconnu « attr »"),
    ("{{ '%999999999s' % 1 }}", "formatage « % »"),
]


@pytest.mark.parametrize(("body", "message"), BAD, ids=[b for b, _m in BAD])
def test_bad_templates_are_refused_in_french_and_never_saved(client, db, world, body, message):
    db.add(EmailTemplateOverride(name="login_link", subject="Avant", body_text="Texte d'avant {{ url }}"))
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    for action in ("save", "test", "preview"):
        response = client.post("/redaction/modeles/login_link", data={"subject": "Objet", "body": body,
                                                                       "action": action})
        assert response.status_code == 422, action
        page = text(response)
        assert message in page, page[page.find("error-summary"):][:800]
        assert body.split("\n")[0][:20] in page  # what was typed is shown again
    saved = override(db)
    assert (saved.subject, saved.body_text) == ("Avant", "Texte d'avant {{ url }}")
    assert outbox(db) == []
    assert db.scalar(select(JournalEntry)) is None


def test_a_bad_subject_is_refused_on_the_subject(client, db, world):
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = client.post("/redaction/modeles/login_link", data={"subject": "{{ user.name ", "body": "Texte",
                                                                   "action": "save"})
    assert response.status_code == 422 and "Objet, ligne 1" in text(response)
    assert override(db) is None


def test_a_saved_text_that_fails_at_send_time_falls_back_to_the_default_and_is_logged(db, world, caplog,
                                                                                      captured_jobs):
    # Written behind the page's back (an older version's rules, a hand edit): it cannot render.
    db.add(EmailTemplateOverride(name="login_link", subject="Lien", body_text="{{ user.nope }}"))
    db.add(EmailTemplateOverride(name="partner_invitation", subject="{% for i in range(10**9) %}x{% endfor %}",
                                 body_text="x"))
    db.commit()
    with caplog.at_level(logging.WARNING, logger="mailing.templates"):
        auth.send_login_link(db, "amina@tilleuls.test")
        db.commit()
    [mail] = outbox(db, "login_link")
    assert mail.subject == "Votre lien de connexion à la lettre Parentalités"  # the default text left
    assert "login_link" in caplog.text and "nope" in caplog.text
    rendered = render_email("partner_invitation", {"user": world["partner"], "structure": world["tilleuls"],
                                                   "url": "https://x.test/i", "days": 7, "inviter_name": None}, db)
    assert rendered.subject.startswith("Invitation à l'espace partenaire")
