"""Composing an issue, compiling it once, planning deliveries, and the public archive."""
from __future__ import annotations

from datetime import date, timedelta

import feedparser
import pytest
from sqlalchemy import func, select

from contributions import services as contributions
from contributions.models import ContributionKind
from contributions.models import ContributionStatus as S
from core.db import utcnow
from mailing.models import Delivery
from newsletter import archive, issues, mailout
from newsletter.models import Issue, IssueStatus
from subscribers.models import Subscriber, SubscriberStatus
from tests.integration.helpers import login


def accepted(db, world, title: str, kind=ContributionKind.actualite, **extra):
    c = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=kind, title=title, body_md=f"Texte de **{title}**.", **extra))
    contributions.decide(db, world["editor"], c, S.accepted)
    return c


@pytest.fixture
def issue(db, world, captured_jobs):
    issue = issues.create_issue(db, world["editor"], 1, "Rentrée", date(2026, 9, 15), "Bonne *rentrée*.")
    for title in ("Premier", "Deuxième", "Troisième"):
        issues.add_item(db, issue, accepted(db, world, title), "actualites")
    db.commit()
    return issue


def subscribers(db, count: int, status=SubscriberStatus.active, prefix="pro") -> list[Subscriber]:
    people = [Subscriber(email=f"{prefix}{i}@example.org", name=f"Pro {i}", status=status) for i in range(count)]
    db.add_all(people)
    db.commit()
    return people


def test_items_move_up_and_down_within_their_rubrique(db, issue):
    first, second, third = issue.items
    assert issues.move_item(db, issue, third.id, -1)
    assert [i.contribution.title for i in issue.items_by_rubrique()[0][2]] == ["Premier", "Troisième", "Deuxième"]
    assert not issues.move_item(db, issue, first.id, -1)  # already first
    issues.set_rubrique(db, issue, first.id, "parentalite")
    assert [(slug, [i.contribution.title for i in items]) for slug, _, items in issue.items_by_rubrique()] == [
        ("actualites", ["Troisième", "Deuxième"]), ("parentalite", ["Premier"])]


def test_only_accepted_contributions_can_be_placed(db, world, issue):
    waiting = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=ContributionKind.actualite, title="Pas encore relue"))
    with pytest.raises(issues.CompositionError):
        issues.add_item(db, issue, waiting)


def test_composer_buttons_move_items_for_keyboard_users(client, db, world, issue):
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get(f"/redaction/numeros/{issue.id}").get_data(as_text=True)
    assert 'aria-label="Descendre « Premier »"' in page and 'aria-label="Monter « Deuxième »"' in page
    response = client.post(f"/redaction/numeros/{issue.id}/articles/{issue.items[0].id}/descendre",
                           data={"anchor": f"item-{issue.items[0].id}"})
    assert response.status_code == 302 and response.location.endswith(f"#item-{issue.items[0].id}")
    db.expire_all()
    assert [i.contribution.title for i in db.get(Issue, issue.id).items] == ["Deuxième", "Premier", "Troisième"]


def test_previews_show_the_letter_before_sending(client, db, issue):
    login(client, "redaction@reaap.test", "mdp-redaction")
    email_html = client.get(f"/redaction/numeros/{issue.id}/apercu/email").get_data(as_text=True)
    assert "Texte de <strong>Premier</strong>" in email_html and "%%" not in email_html
    web = client.get(f"/redaction/numeros/{issue.id}/apercu/web").get_data(as_text=True)
    assert "Aperçu" in web and "<h3>Deuxième</h3>" in web
    text = client.get(f"/redaction/numeros/{issue.id}/apercu/texte").get_data(as_text=True)
    assert "== ACTUALITÉS DU RÉSEAU ==" in text and "Bonjour," in text


def test_compile_once_leaves_personal_slots_and_freezes_the_archive(db, issue):
    mailout.compile_issue(db, issue)
    assert "%%unsubscribe_url%%" in issue.compiled_html and "%%greeting%%" in issue.compiled_text
    assert "%%" not in issue.archive_email_html and "%%" not in issue.archive_html
    assert "<h2 id=\"rubrique-actualites\">Actualités du réseau</h2>" in issue.archive_html


def test_planning_twice_adds_nobody_twice_and_skips_who_is_not_confirmed(db, issue):
    subscribers(db, 5)
    subscribers(db, 2, SubscriberStatus.pending, "attente")
    subscribers(db, 1, SubscriberStatus.unsubscribed, "parti")
    assert mailout.plan(db, issue) == 5
    assert mailout.plan(db, issue) == 0
    db.commit()
    assert db.scalar(select(func.count(Delivery.id))) == 5
    planned = set(db.scalars(select(Subscriber.email).join(Delivery, Delivery.subscriber_id == Subscriber.id)))
    assert planned == {f"pro{i}@example.org" for i in range(5)}


def test_sending_an_empty_issue_or_sending_twice_is_refused(db, world, captured_jobs):
    empty = issues.create_issue(db, world["editor"], 2, "Vide", date(2026, 9, 1))
    with pytest.raises(mailout.MailoutError, match="aucun article"):
        mailout.request_send(db, empty)
    issues.add_item(db, empty, accepted(db, world, "Un article"))
    mailout.request_send(db, empty)
    db.commit()
    assert captured_jobs[-1] == (mailout.START_TASK, (empty.id,))
    empty.status = IssueStatus.sent
    with pytest.raises(mailout.MailoutError):
        mailout.request_send(db, empty)


def test_a_scheduled_issue_waits_for_its_time(db, issue, captured_jobs):
    mailout.request_send(db, issue, utcnow() + timedelta(hours=2))
    db.commit()
    assert issue.status is IssueStatus.scheduled and not any(n == mailout.START_TASK for n, _ in captured_jobs)
    assert mailout.start(db, issue.id) == 0  # too early: nothing planned
    assert mailout.due_issue_ids(db) == [] and mailout.due_issue_ids(db, utcnow() + timedelta(hours=3)) == [issue.id]


def test_editor_schedules_from_the_composer_in_paris_time(client, db, issue, captured_jobs):
    login(client, "redaction@reaap.test", "mdp-redaction")
    client.post(f"/redaction/numeros/{issue.id}/programmer", data={"when": "2099-03-01T09:30"})
    db.expire_all()
    scheduled = db.get(Issue, issue.id)
    assert scheduled.status is IssueStatus.scheduled
    assert scheduled.scheduled_at.isoformat() == "2099-03-01T08:30:00+00:00"  # 9:30 in Paris, winter
    client.post(f"/redaction/numeros/{issue.id}/programmer", data={"when": "2001-01-01T09:30"})
    db.expire_all()
    assert db.get(Issue, issue.id).scheduled_at.year == 2099  # a date in the past changes nothing


def test_archive_lists_sent_letters_newest_first_with_a_valid_atom_feed(client, db, world, captured_jobs, tmp_path):
    for numero in (1, 2):
        issue = issues.create_issue(db, world["editor"], numero, f"Numéro {numero}", date(2026, numero * 3, 1))
        issues.add_item(db, issue, accepted(db, world, f"Article du n°{numero}"))
        mailout.compile_issue(db, issue)
        issue.status, issue.sent_at, issue.published_at = IssueStatus.sent, utcnow(), utcnow()
        db.commit()
    draft = issues.create_issue(db, world["editor"], 3, "Pas encore envoyé", date(2026, 12, 1))
    listing = client.get("/lettres/").get_data(as_text=True)
    assert listing.index("Numéro 2") < listing.index("Numéro 1") and "Pas encore envoyé" not in listing
    assert client.get("/lettres/3/").status_code == 404
    page = client.get("/lettres/2/").get_data(as_text=True)
    assert "Article du n°2" in page
    assert client.get("/lettres/2/email.html").get_data(as_text=True).startswith("<!doctype html>")
    feed = feedparser.parse(client.get("/lettres/feed.atom").data)
    assert feed.bozo == 0 and feed.version == "atom10"
    assert [e.link for e in feed.entries] == ["https://parentalites.test/lettres/2/", "https://parentalites.test/lettres/1/"]
    written = archive.export_static(db, tmp_path / "site")
    names = {p.relative_to(tmp_path / "site").as_posix() for p in written}
    assert {"index.html", "1/index.html", "2/index.html", "2/email.html", "feed.atom", "site.css"} <= names
    index = (tmp_path / "site" / "index.html").read_text()
    assert 'href="2/"' in index and index.index("Numéro 2") < index.index("Numéro 1")
    assert feedparser.parse((tmp_path / "site" / "feed.atom").read_bytes()).bozo == 0
    assert draft.status is IssueStatus.draft


def test_the_archive_keeps_a_letter_as_it_was_sent(db, world, captured_jobs):
    issue = issues.create_issue(db, world["editor"], 1, "Figé", date(2026, 3, 1))
    item = accepted(db, world, "Titre d'origine")
    issues.add_item(db, issue, item)
    mailout.compile_issue(db, issue)
    frozen = issue.archive_html
    item.title = "Titre modifié après l'envoi"
    db.commit()
    assert "Titre d'origine" in db.get(Issue, issue.id).archive_html == frozen


def test_a_letter_that_does_not_compile_goes_back_to_draft_with_the_reason(db, issue, captured_jobs, monkeypatch):
    from mailing import templates
    compile_mjml = templates.compile_mjml  # the one renderer of a named e-mail compiles through it
    monkeypatch.setattr(templates, "compile_mjml", lambda source, name: compile_mjml("<mjml><mj-body><oops", name))
    mailout.request_send(db, issue)
    db.commit()
    assert mailout.start(db, issue.id) == 0
    db.commit()  # the task's boundary
    db.expire_all()
    failed = db.get(Issue, issue.id)
    assert failed.status is IssueStatus.draft and "MJML invalide" in failed.send_error
    assert db.scalar(select(func.count(Delivery.id))) == 0


def test_editor_pauses_resumes_and_cancels_from_the_issue_page(client, db, issue, captured_jobs):
    subscribers(db, 3)
    mailout.request_send(db, issue)
    db.commit()
    mailout.start(db, issue.id)
    db.commit()  # the task's boundary
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get(f"/redaction/numeros/{issue.id}").get_data(as_text=True)
    assert "Mettre en pause" in page and "messages par seconde" in page and "En cours d&#39;envoi" in page

    def status():
        db.expire_all()
        return db.get(Issue, issue.id).status

    client.post(f"/redaction/numeros/{issue.id}/pause")
    assert status() is IssueStatus.paused
    paused_page = client.get(f"/redaction/numeros/{issue.id}").get_data(as_text=True)
    assert f'action="/redaction/numeros/{issue.id}/reprendre"' in paused_page and "En pause" in paused_page
    client.post(f"/redaction/numeros/{issue.id}/reprendre")
    assert status() is IssueStatus.sending
    client.post(f"/redaction/numeros/{issue.id}/annuler")  # not confirmed: nothing happens
    assert status() is IssueStatus.sending
    client.post(f"/redaction/numeros/{issue.id}/annuler", data={"confirm": "1"})
    assert status() is IssueStatus.cancelled
    progress = client.get(f"/redaction/numeros/{issue.id}/progression.json").get_json()
    assert progress["status"] == "cancelled" and progress["remaining"] == 0


def test_an_event_in_the_letter_keeps_what_the_partner_entered_and_links_its_page(db, world, captured_jobs):
    """Issue 13 #23: contact, audience and end time, and the event's page in the agenda."""
    from datetime import UTC, datetime
    letter = issues.create_issue(db, world["editor"], 1, "Rentrée", date(2026, 9, 15), "")
    event = accepted(db, world, "Atelier « écrans »", kind=ContributionKind.evenement,
                     event_start=datetime(2031, 10, 20, 12, 0, tzinfo=UTC),
                     event_end=datetime(2031, 10, 20, 14, 30, tzinfo=UTC), place="Médiathèque de Bondy",
                     audience="Parents d'enfants de 6 à 11 ans", contact="Amina, atelier@tilleuls.test")
    issues.add_item(db, letter, event)
    db.commit()
    rendered = mailout.render_letter(letter)
    web = mailout.render_web_version(letter)
    for name, part in (("html", rendered.html), ("text", rendered.text), ("web", web)):
        part = part.replace("&#39;", "'").replace("&#x27;", "'")
        assert "Parents d'enfants de 6 à 11 ans" in part, name
        assert "Amina, atelier@tilleuls.test" in part, name
        assert "16 h 30" in part, name  # the end, in Paris time
        assert f"https://parentalites.test/agenda/partenaires/{event.id}/" in part, name
