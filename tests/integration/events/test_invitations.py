"""Invitations to an event: rendered like a letter, planned for a segment, sent by the mail-out
engine, never archived nor numbered; the editor's screens; and the real worker end to end."""
from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from contributions import services as contributions
from contributions.models import ContributionKind
from contributions.models import ContributionStatus as S
from core.db import utcnow
from events import invitations
from events.models import Event, EventStatus, EventType
from mailing import engine
from mailing.models import Delivery, DeliveryStatus
from newsletter import archive, issues, mailout
from newsletter.models import Issue, IssueStatus
from subscribers.models import Subscriber, SubscriberStatus
from tests.integration.helpers import login, wait_for


def make_event(db, **extra) -> Event:
    start = datetime(2030, 3, 12, 17, 30, tzinfo=UTC)  # 18:30 in Paris (winter time)
    values = dict(type=EventType.rencontre_clas, title="Rencontre des référents CLAS « rentrée »",
                  description_md="Un temps d'**échange** entre référents.", starts_at=start,
                  ends_at=start + timedelta(hours=2, minutes=30), place="Centre social Les Tilleuls",
                  address="12 rue des Lilas, 93000 Bobigny", accessibility_info="Accès de plain-pied.",
                  contact_email="reaap@caf.test", organiser="Réaap 93")
    values.update(extra)
    event = Event(**values)
    db.add(event)
    db.commit()
    return event


def people(db) -> dict[str, Subscriber]:
    rows = {
        "clas_bobigny": dict(topics=["clas"], role="referent_clas", commune="Bobigny"),
        "clas_montreuil": dict(topics=[], role="referent_clas", commune="Montreuil"),
        "parent": dict(topics=["parentalite"], role="travailleur_social", commune="Bobigny"),
        "tout": dict(topics=[], role=None, commune=None),
        "parti": dict(topics=["clas"], role="referent_clas", status=SubscriberStatus.unsubscribed),
        "attente": dict(topics=["clas"], role="referent_clas", status=SubscriberStatus.pending),
    }
    out = {}
    for name, values in rows.items():
        values.setdefault("status", SubscriberStatus.active)
        out[name] = Subscriber(email=f"{name}@example.org", name=f"Zoé {name}", **values)
    db.add_all(out.values())
    db.commit()
    return out


def delivered_to(db, issue_id) -> set[str]:
    return {e.split("@")[0] for e in db.scalars(
        select(Subscriber.email).join(Delivery, Delivery.subscriber_id == Subscriber.id)
        .where(Delivery.issue_id == issue_id))}


# --- Rendering ----------------------------------------------------------------------------------

def test_invitation_renders_the_event_in_paris_time_with_the_letter_slots(db):
    event = make_event(db)
    issue = Issue(kind="invitation", event_id=event.id, title="x", issue_date=date(2030, 3, 12))
    rendered = invitations.render_invitation(issue, event)
    assert rendered.subject == "Invitation : Rencontre des référents CLAS « rentrée » — 12 mars 2030"
    for part in (rendered.html, rendered.text):
        assert "mardi 12 mars 2030, de 18 h 30 à 21 h" in part
        assert "Centre social Les Tilleuls" in part and "12 rue des Lilas" in part
        assert f"https://parentalites.test/agenda/{event.id}/" in part
        assert "%%greeting%%" in part and "%%unsubscribe_url%%" in part and "%%preferences_url%%" in part
    assert "<strong>échange</strong>" in rendered.html and "Je m'inscris" in rendered.html
    neutral = invitations.preview(event)
    assert "%%" not in neutral.html and "%%" not in neutral.text


def test_a_letter_now_carries_the_preferences_link(db, world, captured_jobs):
    issue = issues.create_issue(db, world["editor"], 1, "Rentrée", date(2026, 9, 15))
    rendered = mailout.render_letter(issue)
    assert "%%preferences_url%%" in rendered.html and "%%preferences_url%%" in rendered.text
    claimed = engine.Claimed(delivery_id=9, attempts=0, email="a@example.org", name="Léa", unsubscribe_token="tok")
    issue.subject, issue.compiled_html, issue.compiled_text = rendered.subject, rendered.html, rendered.text
    _, message = engine.personalised_message(mailout.letter_mime(issue), mailout.message_id_prefix(issue), claimed)
    assert b"https://parentalites.test/preferences/tok" in message


# --- Planning and the engine --------------------------------------------------------------------

def test_plan_queues_only_the_active_subscribers_of_the_segment(db, world, captured_jobs):
    subs = people(db)
    event = make_event(db)
    issue = invitations.send(db, world["editor"], event, {"roles": ["referent_clas"]})
    db.commit()
    assert (issue.kind, issue.numero, issue.status) == ("invitation", None, IssueStatus.scheduled)
    assert ("tasks.mailout.start_mailout", (issue.id,)) in captured_jobs
    mailout.start(db, issue.id)
    assert delivered_to(db, issue.id) == {"clas_bobigny", "clas_montreuil"}
    assert mailout.plan(db, issue) == 0  # planning twice adds nobody
    assert issue.compiled_html and issue.archive_html is None
    # A later invitation to a wider segment does not reach those already invited.
    assert invitations.count_recipients(db, event, {"communes": ["Bobigny"]}) == 1
    wider = invitations.send(db, world["editor"], event, {"communes": ["Bobigny"]})
    mailout.start(db, wider.id)
    assert delivered_to(db, wider.id) == {"parent"}
    assert subs["tout"].id not in set(db.scalars(select(Delivery.subscriber_id)))


def test_topic_segment_counts_subscribers_without_topics_as_interested(db, world, captured_jobs):
    people(db)
    event = make_event(db)
    assert invitations.count_recipients(db, event, {"topics": ["clas"]}) == 3  # clas_bobigny, clas_montreuil, tout
    assert invitations.count_recipients(db, event, None) == 4


def test_message_id_and_list_id_work_without_a_numero(db, world, captured_jobs):
    people(db)
    event = make_event(db)
    issue = invitations.send(db, world["editor"], event, None)
    mailout.start(db, issue.id)
    delivery = db.scalar(select(Delivery).order_by(Delivery.id))
    subscriber = db.get(Subscriber, delivery.subscriber_id)
    claimed = engine.Claimed(delivery.id, 0, subscriber.email, subscriber.name, subscriber.unsubscribe_token)
    message_id, raw = engine.personalised_message(mailout.letter_mime(issue), mailout.message_id_prefix(issue), claimed)
    assert re.fullmatch(rf"<invitation-i{issue.id}\.{delivery.id}\.[0-9a-f]{{8}}@parentalites\.test>", message_id)
    assert b"None" not in raw.split(b"\r\n\r\n", 1)[0]
    assert b"List-Id: " in raw and b"List-Unsubscribe-Post: List-Unsubscribe=One-Click" in raw


def test_invitations_stay_out_of_the_archive_and_the_numbering(client, db, world, captured_jobs, tmp_path):
    letter = issues.create_issue(db, world["editor"], 1, "Lettre un", date(2026, 3, 1))
    c = contributions.create(db, world["partner"],
                             contributions.ContributionData(kind=ContributionKind.actualite, title="Article"))
    contributions.decide(db, world["editor"], c, S.accepted)
    issues.add_item(db, letter, c)
    letter.status, letter.sent_at, letter.published_at = IssueStatus.sent, utcnow(), utcnow()
    people(db)
    event = make_event(db)
    invitation = invitations.send(db, world["editor"], event, None)
    mailout.start(db, invitation.id)
    db.execute(Delivery.__table__.update().values(status=DeliveryStatus.sent.value))
    db.commit()
    assert mailout.finish_if_done(db, invitation.id)
    db.refresh(invitation)
    assert invitation.status is IssueStatus.sent and invitation.published_at is None
    assert [i.id for i in archive.published_issues(db)] == [letter.id]
    assert issues.next_numero(db) == 2
    assert [i.id for i in issues.list_issues(db)] == [letter.id]
    assert event.title not in client.get("/lettres/").get_data(as_text=True)
    assert event.title not in client.get("/lettres/feed.atom").get_data(as_text=True)
    written = archive.export_static(db, tmp_path / "site")
    assert not any(event.title in p.read_text() for p in written if p.suffix in (".html", ".atom"))
    login(client, "redaction@reaap.test", "mdp-redaction")
    assert event.title not in client.get("/redaction/numeros/").get_data(as_text=True)
    assert event.title not in client.get("/redaction/").get_data(as_text=True)
    listing = client.get("/redaction/invitations/").get_data(as_text=True)
    assert event.title in listing and "Tous les abonnés" in listing


def test_a_cancelled_or_past_event_cannot_be_invited_to(db, world, captured_jobs):
    people(db)
    cancelled = make_event(db, status=EventStatus.cancelled)
    with pytest.raises(invitations.InvitationError):
        invitations.send(db, world["editor"], cancelled, None)
    past = make_event(db, starts_at=utcnow() - timedelta(days=3), ends_at=utcnow() - timedelta(days=3, hours=-2))
    with pytest.raises(invitations.InvitationError):
        invitations.send(db, world["editor"], past, None)
    assert db.scalar(select(func.count(Issue.id))) == 0


# --- The editor's screens -----------------------------------------------------------------------

def test_editor_chooses_a_segment_sees_the_count_confirms_and_sends(client, db, world, captured_jobs):
    people(db)
    event = make_event(db, audience={"roles": ["referent_clas"]})
    login(client, "redaction@reaap.test", "mdp-redaction")
    url = f"/redaction/evenements/{event.id}/inviter"
    page = client.get(url).get_data(as_text=True)
    # Prefilled from the event's audience: the CLAS referents, two of them.
    assert re.search(r'<input checked id="roles-\d+" name="roles" type="checkbox" value="referent_clas">', page)
    assert len(re.findall(r"<input checked", page)) == 1
    assert 'value="Bobigny"' in page and 'value="Montreuil"' in page  # communes the subscribers gave
    assert "2 abonné·e·s recevront cette invitation" in page

    counted = client.post(url, data={"action": "count", "communes": ["Bobigny"], "expected": "2"})
    assert "2 abonné·e·s recevront cette invitation" in counted.get_data(as_text=True)  # clas_bobigny, parent

    not_confirmed = client.post(url, data={"action": "send", "communes": ["Bobigny"], "expected": "2"})
    assert "Cochez la case" in not_confirmed.get_data(as_text=True)
    stale = client.post(url, data={"action": "send", "roles": ["referent_clas"], "expected": "4", "confirm": "y"})
    assert "La sélection a changé" in stale.get_data(as_text=True)
    assert db.scalar(select(func.count(Issue.id))) == 0

    sent = client.post(url, data={"action": "send", "communes": ["Bobigny"], "expected": "2", "confirm": "y"})
    assert sent.status_code == 302
    issue = db.scalar(select(Issue))
    assert sent.location == f"/redaction/invitations/{issue.id}"
    assert (issue.kind, issue.segment, issue.event_id) == ("invitation", {"communes": ["Bobigny"]}, event.id)
    # The letters' progress page and its controls work for it.
    assert client.get(f"/redaction/numeros/{issue.id}").location == f"/redaction/invitations/{issue.id}"
    mailout.start(db, issue.id)
    db.commit()  # the task's boundary
    page = client.get(f"/redaction/invitations/{issue.id}").get_data(as_text=True)
    assert 'id="mailout-progress"' in page and f"/redaction/numeros/{issue.id}/pause" in page
    assert client.post(f"/redaction/numeros/{issue.id}/pause").status_code == 302
    db.expire_all()
    assert db.get(Issue, issue.id).status is IssueStatus.paused
    assert client.get(f"/redaction/numeros/{issue.id}/progression.json").get_json()["total"] == 2
    assert client.get(f"/redaction/numeros/{issue.id}/apercu/email").status_code == 200


def test_editor_invites_by_departement(client, db, world, captured_jobs):
    subs = people(db)
    subs["clas_bobigny"].departement = subs["parent"].departement = "93"
    subs["clas_montreuil"].departement = "94"
    db.commit()
    event = make_event(db)
    login(client, "redaction@reaap.test", "mdp-redaction")
    url = f"/redaction/evenements/{event.id}/inviter"
    page = client.get(url).get_data(as_text=True)
    # The départements the subscribers gave, to tick, labelled with their names.
    assert re.search(r'<input id="departements-\d+" name="departements" type="checkbox" value="93"> '
                     r'<label for="departements-\d+">Seine-Saint-Denis \(93\)</label>', page)
    assert "Val-de-Marne (94)" in page and "(75)" not in page
    counted = client.post(url, data={"action": "count", "departements": ["93"], "expected": "4"})
    text = counted.get_data(as_text=True)
    assert "Départements : Seine-Saint-Denis (93)" in text and "2 abonné·e·s recevront cette invitation" in text
    # Typed in by name, with one the list does not know: a French error, nothing sent.
    refused = client.post(url, data={"action": "send", "other_departements": "Val-de-Marne, Seine-et-Oise",
                                     "expected": "1", "confirm": "y"})
    assert refused.status_code == 422
    assert "Département inconnu : Seine-et-Oise" in refused.get_data(as_text=True)
    assert db.scalar(select(func.count(Issue.id))) == 0
    sent = client.post(url, data={"action": "send", "other_departements": "val de marne", "roles": ["referent_clas"],
                                  "expected": "1", "confirm": "y"})
    assert sent.status_code == 302
    issue = db.scalar(select(Issue))
    assert issue.segment == {"roles": ["referent_clas"], "departements": ["94"]}
    mailout.start(db, issue.id)
    db.commit()
    assert delivered_to(db, issue.id) == {"clas_montreuil"}


def test_invitation_pages_are_for_editors_only(client, db, world):
    event = make_event(db)
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    assert client.get(f"/redaction/evenements/{event.id}/inviter").status_code == 403
    assert client.get("/redaction/invitations/").status_code == 403


# --- End to end: the real worker, Redis, PostgreSQL and SMTP ---------------------------------------

@pytest.mark.integration
def test_only_the_segment_receives_the_invitation(db, world, smtp, celery_worker):
    subs = people(db)
    event = make_event(db)
    issue = invitations.send(db, world["editor"], event, {"topics": ["clas"], "communes": ["Bobigny", "Montreuil"]})
    db.commit()

    def done():
        db.expire_all()
        return db.get(Issue, issue.id).status is IssueStatus.sent
    wait_for(done, 90, message="the invitation to be sent")
    received = [m for m in smtp.messages if m.message["Subject"].startswith("Invitation : ")]
    assert Counter(m.recipients[0] for m in received) == {"clas_bobigny@example.org": 1,
                                                           "clas_montreuil@example.org": 1}
    message = next(m for m in received if m.recipients[0] == "clas_bobigny@example.org").message
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    token = subs["clas_bobigny"].unsubscribe_token
    assert "Bonjour Zoé clas_bobigny," in html and "Bonjour Zoé clas_bobigny," in text
    preferences_url = f"https://parentalites.test/preferences/{token}"
    assert preferences_url in html and preferences_url in text
    assert message["List-Unsubscribe"].strip().startswith(f"<https://parentalites.test/desabonnement/{token}?envoi=")
    assert message["Message-ID"].startswith(f"<invitation-i{issue.id}.")
    assert "18 h 30" in text and event.title in message["Subject"]
    assert db.get(Issue, issue.id).published_at is None
    assert archive.published_issues(db) == []


def test_editor_sends_a_test_of_the_invitation_to_one_address(client, db, world, captured_jobs):
    from mailing.models import OutboundEmail
    people(db)
    event = make_event(db)
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = client.post(f"/redaction/evenements/{event.id}/inviter/test", data={"address": "relecture@example.org"})
    assert response.status_code == 302
    [mail] = db.scalars(select(OutboundEmail)).all()
    assert mail.to_addr == "relecture@example.org" and mail.subject.startswith("[TEST] Invitation : ")
    assert "%%" not in mail.html_body and "Bonjour," in mail.text_body
    assert db.scalar(select(func.count(Delivery.id))) == 0 and db.scalar(select(func.count(Issue.id))) == 0
    preview = client.get(f"/redaction/evenements/{event.id}/inviter/apercu").get_data(as_text=True)
    assert "Rencontre des référents CLAS" in preview and "%%" not in preview


def test_an_invitation_to_a_full_event_says_it_is_full(db, captured_jobs):
    """Issue 13 #22: not a bare « Je m'inscris »."""
    from events import services
    event = make_event(db, capacity=1)
    issue = Issue(kind="invitation", event_id=event.id, title="x", issue_date=date(2030, 3, 12))
    assert "Je m'inscris" in invitations.render_invitation(issue, event).html
    services.register(db, event, "Inès", "ines@example.org", consent=True)  # the only seat
    db.commit()
    rendered = invitations.render_invitation(issue, event)
    for part in (rendered.html, rendered.text):
        assert "Complet — inscription sur liste d'attente" in part
        assert f"https://parentalites.test/agenda/{event.id}/" in part
    assert "Je m'inscris" not in rendered.html
    closed = make_event(db, status=EventStatus.full)  # closed by the editor, no capacity
    rendered = invitations.render_invitation(issue, closed)
    assert "Complet — inscription sur liste d'attente" in rendered.html and "Je m'inscris" not in rendered.html
