"""The letter's Agenda: the network's events (events/, registered with newsletter.agenda) and the
accepted partner events, offered by date, placed, reordered and removed with buttons; the letter
shows the date, the place, « S'inscrire » and « complet — liste d'attente »."""
from __future__ import annotations

import html
from datetime import date, timedelta

from sqlalchemy import select

from accounts.models import JournalEntry
from contributions import services
from contributions.models import ContributionKind as K
from contributions.models import ContributionStatus as S
from core.db import utcnow
from events.models import EventStatus, Registration, RegistrationStatus
from newsletter import agenda, issues, mailout
from newsletter.models import Issue
from tests.integration.helpers import login, make_event


def _issue(db, world) -> Issue:
    issue = issues.create_issue(db, world["editor"], 1, "Lettre de décembre", date(2026, 12, 10))
    db.commit()
    return issue


def _partner_event(db, world, days: int, title="Café des parents de Noël"):
    start = (utcnow() + timedelta(days=days)).replace(microsecond=0)
    c = services.create(db, world["partner"], services.ContributionData(
        kind=K.evenement, title=title, body_md="Un goûter.", event_start=start, place="Bobigny"))
    services.decide(db, world["editor"], c, S.accepted)
    db.commit()
    return c


def _editor(client):
    login(client, "redaction@reaap.test", "mdp-redaction")
    return client


def test_the_composer_offers_the_networks_and_the_partners_events_by_date(client, db, world):
    soiree = make_event(db, days=20, title="Soirée-rencontre : être parent d'ado")
    journee = make_event(db, days=40, title="Journée des porteurs de projet")
    make_event(db, days=-3, title="Soirée passée")
    make_event(db, days=5, title="Soirée annulée", status=EventStatus.cancelled)
    partner = _partner_event(db, world, days=10)
    issue = _issue(db, world)
    offered = agenda.offers(db, issue)
    assert [o.title for o in offered] == [partner.title, soiree.title, journee.title]
    page = html.unescape(_editor(client).get(f"/redaction/numeros/{issue.id}").get_data(as_text=True))
    assert "Événements pour l'Agenda" in page and "Soirée passée" not in page and "Soirée annulée" not in page
    assert page.index(partner.title) < page.index(soiree.title) < page.index(journee.title)


def test_a_network_event_goes_to_the_agenda_in_date_order_and_the_letter_shows_it(client, db, world):
    later = make_event(db, days=40, title="Journée des porteurs de projet", place="Bourse du travail", address="")
    sooner = make_event(db, days=20, title="Soirée-rencontre : être parent d'ado")
    partner = _partner_event(db, world, days=30)
    issue = _issue(db, world)
    editor = _editor(client)
    for key in (f"event:{later.id}", f"contribution:{partner.id}", f"event:{sooner.id}"):
        assert editor.post(f"/redaction/numeros/{issue.id}/agenda", data={"offer": key}).status_code == 302
    db.expire_all()
    issue = db.get(Issue, issue.id)
    [(slug, label, items)] = issue.items_by_rubrique()
    assert (slug, label) == ("agenda", "Agenda")
    assert [i.event_id or i.contribution_id for i in items] == [sooner.id, partner.id, later.id]
    entries = db.scalars(select(JournalEntry).where(JournalEntry.action == "issue.agenda_event_added")).all()
    assert len(entries) == 2
    letter = html.unescape(editor.get(f"/redaction/numeros/{issue.id}/apercu/email").get_data(as_text=True))
    assert "Journée des porteurs de projet" in letter and "Bourse du travail" in letter
    assert f"/agenda/{later.id}/" in letter and "S'inscrire" in letter
    assert letter.index(sooner.title) < letter.index(partner.title) < letter.index(later.title)
    text = editor.get(f"/redaction/numeros/{issue.id}/apercu/texte").get_data(as_text=True)
    assert "S'inscrire : http" in text and f"/agenda/{sooner.id}/" in text
    web = html.unescape(editor.get(f"/redaction/numeros/{issue.id}/apercu/web").get_data(as_text=True))
    assert "Journée des porteurs de projet" in web and "S'inscrire" in web


def test_a_full_event_says_complet_liste_d_attente(client, db, world):
    event = make_event(db, days=15, capacity=1, title="Soirée complète")
    db.add(Registration(event_id=event.id, name="Léa", email="lea@example.org", party_size=1, position=1,
                        status=RegistrationStatus.confirmed))
    db.commit()
    issue = _issue(db, world)
    editor = _editor(client)
    page = html.unescape(editor.get(f"/redaction/numeros/{issue.id}").get_data(as_text=True))
    assert "complet — liste d'attente" in page
    editor.post(f"/redaction/numeros/{issue.id}/agenda", data={"offer": f"event:{event.id}"})
    letter = html.unescape(editor.get(f"/redaction/numeros/{issue.id}/apercu/email").get_data(as_text=True))
    assert "Complet — liste d'attente" in letter and "S'inscrire sur la liste d'attente" in letter


def test_the_editor_reorders_and_removes_agenda_events_with_buttons(client, db, world):
    first = make_event(db, days=10, title="Premier événement")
    second = make_event(db, days=20, title="Second événement")
    issue = _issue(db, world)
    editor = _editor(client)
    for event in (first, second):
        editor.post(f"/redaction/numeros/{issue.id}/agenda", data={"offer": f"event:{event.id}"})
    db.expire_all()
    issue = db.get(Issue, issue.id)
    item_first = next(i for i in issue.items if i.event_id == first.id)
    page = html.unescape(editor.get(f"/redaction/numeros/{issue.id}").get_data(as_text=True))
    assert "Descendre « Premier événement »" in page and "Trier « Agenda » par date" in page
    assert editor.post(f"/redaction/numeros/{issue.id}/articles/{item_first.id}/descendre").status_code == 302
    db.expire_all()
    issue = db.get(Issue, issue.id)
    assert [i.event_id for i in issue.items_by_rubrique()[0][2]] == [second.id, first.id]
    assert editor.post(f"/redaction/numeros/{issue.id}/rubriques/agenda/trier").status_code == 302
    db.expire_all()
    issue = db.get(Issue, issue.id)
    assert [i.event_id for i in issue.items_by_rubrique()[0][2]] == [first.id, second.id]
    assert editor.post(f"/redaction/numeros/{issue.id}/articles/{item_first.id}/retirer").status_code == 302
    db.expire_all()
    assert [i.event_id for i in db.get(Issue, issue.id).items] == [second.id]
    # Offered again once removed.
    assert f"event:{first.id}" in {o.key for o in agenda.offers(db, db.get(Issue, issue.id))}


def test_an_event_placed_twice_or_unknown_is_refused_with_a_message(client, db, world):
    event = make_event(db, days=10)
    issue = _issue(db, world)
    editor = _editor(client)
    editor.post(f"/redaction/numeros/{issue.id}/agenda", data={"offer": f"event:{event.id}"})
    page = html.unescape(editor.post(f"/redaction/numeros/{issue.id}/agenda", data={"offer": f"event:{event.id}"},
                                     follow_redirects=True).get_data(as_text=True))
    assert "Cet événement est déjà dans ce numéro." in page
    for bad in ("event:999999", "event:abc", "autre:1", ""):
        page = html.unescape(editor.post(f"/redaction/numeros/{issue.id}/agenda", data={"offer": bad},
                                         follow_redirects=True).get_data(as_text=True))
        assert "Événement inconnu." in page
    db.expire_all()
    assert len(db.get(Issue, issue.id).items) == 1


def test_a_letter_with_a_network_event_compiles_and_its_contributions_are_published(db, world):
    event = make_event(db, days=10, title="Soirée du réseau")
    partner = _partner_event(db, world, days=12)
    issue = _issue(db, world)
    agenda.add_offer(db, world["editor"], issue, f"event:{event.id}")
    agenda.add_offer(db, world["editor"], issue, f"contribution:{partner.id}")
    db.commit()
    mailout.compile_issue(db, issue)
    assert "Soirée du réseau" in issue.compiled_html and "Soirée du réseau" in issue.archive_summary
    assert "Soirée du réseau" in issue.archive_html
    from contributions.services import mark_published
    mark_published(db, [i.contribution for i in issue.items if i.contribution is not None], "test")
    assert partner.status is S.published


def test_each_kind_lands_in_its_own_default_rubrique(client, db, world):
    issue = _issue(db, world)
    expected = {K.actualite: "actualites", K.fiche_action: "parentalite", K.ressource: "ressources",
                K.appel_a_projets: "appels_a_projets"}
    extra = {K.ressource: dict(resource_kind="guide", link="https://guide.example/"),
             K.appel_a_projets: dict(deadline=date(2027, 1, 31)), K.fiche_action: {}}
    placed = {}
    for kind in expected:
        values = dict(kind=kind, title=f"Une {kind.value}", body_md="Texte.", **extra.get(kind, {}))
        if kind is K.ressource:
            from contributions.models import ResourceKind
            values["resource_kind"] = ResourceKind.guide
        c = services.create(db, world["partner"], services.ContributionData(**values))
        if kind is K.fiche_action:
            c.fiche.summary = "Résumé."
        services.decide(db, world["editor"], c, S.accepted)
        placed[kind] = c
    db.commit()
    page = html.unescape(_editor(client).get(f"/redaction/numeros/{issue.id}").get_data(as_text=True))
    for kind, slug in expected.items():
        c = placed[kind]
        select_html = page[page.index(f'id="add-rubrique-{c.id}"'):]
        select_html = select_html[:select_html.index("</select>")]
        assert f'value="{slug}" selected' in select_html, (kind, select_html[:400])
        assert issues.add_item(db, issue, c).rubrique == slug


def test_a_partner_event_with_a_registration_link_says_s_inscrire(client, db, world):
    start = (utcnow() + timedelta(days=9)).replace(microsecond=0)
    c = services.create(db, world["partner"], services.ContributionData(
        kind=K.evenement, title="Sortie au musée", body_md="En famille.", event_start=start, place="Paris",
        link="https://tilleuls.example/inscription"))
    services.decide(db, world["editor"], c, S.accepted)
    issue = _issue(db, world)
    agenda.add_offer(db, world["editor"], issue, f"contribution:{c.id}")
    db.commit()
    editor = _editor(client)
    letter = html.unescape(editor.get(f"/redaction/numeros/{issue.id}/apercu/email").get_data(as_text=True))
    assert 'href="https://tilleuls.example/inscription">S\'inscrire' in letter
    text = editor.get(f"/redaction/numeros/{issue.id}/apercu/texte").get_data(as_text=True)
    assert "S'inscrire : https://tilleuls.example/inscription" in text
