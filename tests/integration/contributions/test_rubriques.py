"""The letter's rubriques, for admins: add, rename, reorder, each kind's default; editors get 403;
a rename leaves a sent letter as it was."""
from __future__ import annotations

import html
from datetime import date

import pytest
from sqlalchemy import select

from accounts.auth import create_user
from accounts.models import JournalEntry, Role
from contributions import rubriques, services
from contributions.models import ContributionKind as K
from contributions.models import ContributionStatus as S
from newsletter import issues, mailout
from newsletter.models import IssueStatus
from tests.integration.helpers import login


@pytest.fixture
def admin(app, db, world):
    create_user(db, "admin@reaap.test", "Nadia Admin", Role.admin, "mdp-admin")
    db.commit()
    client = app.test_client()
    login(client, "admin@reaap.test", "mdp-admin")
    return client


def _rubrique(db, slug):
    return next(r for r in rubriques.ordered(db) if r.slug == slug)


def test_the_seeded_rubriques_are_the_letters(db):
    assert rubriques.choices(db) == rubriques.RUBRIQUES
    assert rubriques.defaults(db) == rubriques.DEFAULT_RUBRIQUE


def test_an_admin_adds_renames_and_reorders_rubriques(admin, db):
    page = html.unescape(admin.get("/redaction/rubriques/").get_data(as_text=True))
    assert "Rubriques de la lettre" in page and "Appels à projets" in page
    assert admin.post("/redaction/rubriques/", data={"label": "À la une"}).status_code == 302
    assert rubriques.choices(db)[-1] == ("a_la_une", "À la une")
    new = _rubrique(db, "a_la_une")
    for _ in range(len(rubriques.RUBRIQUES)):
        assert admin.post(f"/redaction/rubriques/{new.id}/monter").status_code == 302
    db.expire_all()
    assert rubriques.choices(db)[0] == ("a_la_une", "À la une")
    agenda = _rubrique(db, "agenda")
    response = admin.post(f"/redaction/rubriques/{agenda.id}/renommer", data={"label": "Agenda du réseau"})
    assert response.status_code == 302
    db.expire_all()
    assert rubriques.labels(db)["agenda"] == "Agenda du réseau"
    actions = {e.action for e in db.scalars(select(JournalEntry))}
    assert {"rubrique.created", "rubrique.moved", "rubrique.renamed"} <= actions


@pytest.mark.parametrize("label, message", [
    ("", "Le nom de la rubrique est obligatoire."),
    ("   ", "Le nom de la rubrique est obligatoire."),
    ("x" * 121, "Le nom de la rubrique est trop long"),
    ("agenda", "Une rubrique s'appelle déjà « agenda »."),
])
def test_a_bad_name_is_refused_with_a_message(admin, db, label, message):
    page = html.unescape(admin.post("/redaction/rubriques/", data={"label": label},
                                    follow_redirects=True).get_data(as_text=True))
    assert message in page
    assert len(rubriques.choices(db)) == len(rubriques.RUBRIQUES)


def test_an_admin_chooses_each_kinds_default_and_the_composer_follows(admin, db, world):
    form = {f"default-{kind.value}": slug for kind, slug in rubriques.DEFAULT_RUBRIQUE.items()}
    form["default-ressource"] = "parentalite"
    assert admin.post("/redaction/rubriques/par-defaut", data=form).status_code == 302
    assert rubriques.default_for(db, K.ressource) == "parentalite"
    c = services.create(db, world["partner"], services.ContributionData(
        kind=K.ressource, title="Guide", body_md="x", link="https://guide.example/", resource_kind="guide"))
    services.decide(db, world["editor"], c, S.accepted)
    issue = issues.create_issue(db, world["editor"], 1, "Lettre", date(2026, 12, 1))
    assert issues.add_item(db, issue, c).rubrique == "parentalite"
    assert admin.post("/redaction/rubriques/par-defaut", data={"default-ressource": "nulle_part"}).status_code == 302
    assert rubriques.default_for(db, K.ressource) == "parentalite"


def test_an_editor_gets_403_on_every_rubrique_page_and_forged_post(app, db, world):
    editor = app.test_client()
    login(editor, "redaction@reaap.test", "mdp-redaction")
    agenda = _rubrique(db, "agenda")
    assert editor.get("/redaction/rubriques/").status_code == 403
    for url, data in [("/redaction/rubriques/", {"label": "Pirate"}),
                      (f"/redaction/rubriques/{agenda.id}/renommer", {"label": "Pirate"}),
                      (f"/redaction/rubriques/{agenda.id}/monter", {}),
                      (f"/redaction/rubriques/{agenda.id}/descendre", {}),
                      ("/redaction/rubriques/par-defaut", {"default-evenement": "actualites"})]:
        assert editor.post(url, data=data).status_code == 403, url
    db.expire_all()
    assert rubriques.choices(db) == rubriques.RUBRIQUES and rubriques.defaults(db) == rubriques.DEFAULT_RUBRIQUE
    assert "Rubriques de la lettre" not in editor.get("/redaction/").get_data(as_text=True)


def test_a_rubrique_of_a_sent_letter_is_renamed_and_the_sent_letter_stays_frozen(admin, db, world):
    c = services.create(db, world["partner"], services.ContributionData(kind=K.actualite, title="Nouvelles",
                                                                       body_md="x"))
    services.decide(db, world["editor"], c, S.accepted)
    sent = issues.create_issue(db, world["editor"], 1, "Lettre envoyée", date(2026, 11, 1))
    issues.add_item(db, sent, c)
    mailout.compile_issue(db, sent)
    sent.status = IssueStatus.sent
    db.commit()
    actualites = _rubrique(db, "actualites")
    assert admin.post(f"/redaction/rubriques/{actualites.id}/renommer",
                      data={"label": "Nouvelles du réseau"}).status_code == 302
    db.expire_all()
    assert "Actualités du réseau" in sent.archive_html and "Nouvelles du réseau" not in sent.archive_html
    assert "Actualités du réseau" in sent.compiled_html
    assert sent.items[0].rubrique == "actualites"
    assert mailout.render_web_version(sent).count("Nouvelles du réseau") == 1  # a new render would say it
