"""Partner submissions, moderation, and who may see what."""
from __future__ import annotations

import html
from datetime import datetime

import pytest
from sqlalchemy import select

from contributions import services
from contributions.models import Contribution, ContributionKind
from contributions.models import ContributionStatus as S
from core.formatting import PARIS
from mailing.models import OutboundEmail
from tests.integration.helpers import login


def news(**overrides) -> services.ContributionData:
    values = dict(kind=ContributionKind.actualite, title="Café des parents", body_md="Chaque **jeudi**.")
    values.update(overrides)
    return services.ContributionData(**values)


def test_partner_submits_an_event_through_the_form_and_sees_its_status(client, world, db, captured_jobs):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    response = client.post("/partenaires/contributions/nouvelle", data={
        "kind": "evenement", "title": "Soirée jeux en famille", "body_md": "Venez **jouer**.",
        "link": "https://tilleuls.example.org/jeux", "event_start": "2026-12-10T18:00",
        "event_end": "2026-12-10T21:00", "place": "12 rue des Lilas, Bobigny", "action": "submit"})
    assert response.status_code == 302
    contribution = db.scalar(select(Contribution))
    assert contribution.status is S.submitted and contribution.structure_id == world["tilleuls"].id
    assert contribution.event_start == datetime(2026, 12, 10, 18, 0, tzinfo=PARIS)
    home = client.get("/partenaires/").get_data(as_text=True)
    assert "Soirée jeux en famille" in home and "En attente de relecture" in home
    page = client.get(response.location).get_data(as_text=True)
    assert "<strong>jouer</strong>" in page and "jeudi 10 décembre 2026, de 18 h à 21 h" in page


def test_form_errors_keep_what_the_partner_typed(client, world, db):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    response = client.post("/partenaires/contributions/nouvelle", data={
        "kind": "actualite", "title": "", "body_md": "Un texte long que je ne veux pas perdre", "link": "pas un lien"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Un texte long que je ne veux pas perdre" in page
    assert "Le titre est obligatoire" in page and "Lien invalide" in page
    assert db.scalar(select(Contribution)) is None


def test_event_end_before_start_is_refused(world, db):
    with pytest.raises(services.ModerationError, match="précède"):
        services.create(db, world["partner"], news(kind=ContributionKind.evenement,
                                                   event_start=datetime(2026, 12, 10, 18, tzinfo=PARIS),
                                                   event_end=datetime(2026, 12, 10, 17, tzinfo=PARIS)))


def test_partner_cannot_read_or_change_another_structures_submission(client, world, db):
    theirs = services.create(db, world["other"], news(title="Chez les voisins"))
    db.commit()
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    assert client.get(f"/partenaires/contributions/{theirs.id}").status_code == 403
    assert client.get(f"/partenaires/contributions/{theirs.id}/modifier").status_code == 403
    assert client.post(f"/partenaires/contributions/{theirs.id}/retirer").status_code == 403
    assert "Chez les voisins" not in client.get("/partenaires/").get_data(as_text=True)


def test_partner_cannot_moderate_or_open_editor_pages(client, world, db):
    theirs = services.create(db, world["other"], news(title="Chez les voisins"))
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    assert client.post(f"/redaction/moderation/{theirs.id}", data={"decision": "accepted"}).status_code == 403
    for page in ("/redaction/", "/redaction/moderation/", "/redaction/numeros/"):
        assert client.get(page).status_code == 403
    db.refresh(theirs)
    assert theirs.status is S.submitted


def test_anonymous_visitor_is_sent_to_login(client, world):
    response = client.get("/redaction/")
    assert response.status_code == 302 and response.location.startswith("/connexion")


def test_wrong_password_is_refused_without_saying_which_part_was_wrong(client, world):
    for email, password in (("amina@tilleuls.test", "faux"), ("personne@nulle.part", "faux")):
        page = client.post("/connexion", data={"email": email, "password": password}).get_data(as_text=True)
        assert "Adresse e-mail ou mot de passe incorrect" in page


def test_request_changes_needs_a_comment_then_the_partner_resubmits(world, db, captured_jobs):
    contribution = services.create(db, world["partner"], news())
    with pytest.raises(services.ModerationError, match="commentaire obligatoire"):
        services.decide(db, world["editor"], contribution, S.changes_requested, "  ")
    services.decide(db, world["editor"], contribution, S.changes_requested, "Précisez les horaires.")
    services.update(db, world["partner"], contribution, news(body_md="Le jeudi de 9 h à 11 h."), submit=True)
    services.decide(db, world["editor"], contribution, S.accepted)
    assert [t.to_status for t in contribution.transitions] == [
        "draft", "submitted", "changes_requested", "submitted", "accepted"]
    assert contribution.transitions[2].comment == "Précisez les horaires."
    mails = list(db.scalars(select(OutboundEmail).order_by(OutboundEmail.id)))
    assert [m.to_addr for m in mails] == ["amina@tilleuls.test"] * 2
    assert "Précisez les horaires." in mails[0].text_body
    assert "accepté" in mails[1].subject


def test_the_acceptance_mail_says_where_the_contribution_will_appear(client, world, db, captured_jobs):
    services.decide(db, world["editor"], services.create(db, world["partner"], news()), S.accepted)
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    assert client.post("/partenaires/nouvelle/fiche-action",
                       data={**FICHE, "status_reason": "Fin du financement."}).status_code == 302
    fiche = db.scalar(select(Contribution).where(Contribution.kind == ContributionKind.fiche_action))
    services.decide(db, world["editor"], fiche, S.accepted)
    news_mail, fiche_mail = [m.text_body for m in db.scalars(select(OutboundEmail).order_by(OutboundEmail.id))]
    assert "prochain numéro" in news_mail and "annuaire" not in news_mail
    assert "annuaire des actions" in fiche_mail and "prochain numéro" not in fiche_mail


def test_impossible_moves_are_refused(world, db):
    contribution = services.create(db, world["partner"], news())
    services.decide(db, world["editor"], contribution, S.rejected, "Hors sujet.")
    with pytest.raises(services.ModerationError):
        services.decide(db, world["editor"], contribution, S.accepted)
    with pytest.raises(services.ModerationError):
        services.update(db, world["partner"], contribution, news(title="Autre"))
    with pytest.raises(services.Forbidden):
        services.decide(db, world["partner"], contribution, S.accepted)


def test_editor_decides_through_the_queue_and_the_partner_is_told(client, world, db, captured_jobs):
    contribution = services.create(db, world["partner"], news())
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    queue = client.get("/redaction/moderation/").get_data(as_text=True)
    assert "Café des parents" in queue and "Centre social Les Tilleuls" in queue
    response = client.post(f"/redaction/moderation/{contribution.id}", data={"decision": "accepted", "comment": ""})
    assert response.status_code == 302
    db.refresh(contribution)
    assert contribution.status is S.accepted
    assert ("tasks.mail.send_outbound", (db.scalar(select(OutboundEmail.id)),)) in captured_jobs


# --- The five kinds, their forms, drafts and preview ---------------------------------------------

def test_the_partner_chooses_the_kind_first_then_gets_its_own_form(client, world):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    chooser = client.get("/partenaires/nouvelle").get_data(as_text=True)
    for slug, label in (("actualite", "Actualité"), ("evenement", "Événement"), ("fiche-action", "Fiche action"),
                        ("ressource", "Ressource"), ("appel-a-projets", "Appel à projets")):
        assert f'href="/partenaires/nouvelle/{slug}"' in chooser and label in chooser
    assert client.get("/partenaires/nouvelle?type=evenement").location == "/partenaires/nouvelle/evenement"
    event_form = client.get("/partenaires/nouvelle/evenement").get_data(as_text=True)
    assert 'name="event_start"' in event_form and 'name="audience"' in event_form
    assert 'name="deadline"' not in event_form
    call_form = client.get("/partenaires/nouvelle/appel-a-projets").get_data(as_text=True)
    assert 'name="deadline"' in call_form and 'name="event_start"' not in call_form
    fiche_form = client.get("/partenaires/nouvelle/fiche-action").get_data(as_text=True)
    for name in ("structure_label", "departement", "year", "action_status", "status_reason", "dimension",
                 "keywords", "summary", "initiative", "territory", "body_md", "public", "partners",
                 "partners_description", "financial_resources", "people_mobilised", "result_territory",
                 "result_structure", "result_inhabitants", "limits", "perspectives", "contact", "upload"):
        assert f'name="{name}"' in fiche_form, name
    assert "Raisons pour lesquelles l'action est terminée" in html.unescape(fiche_form)
    assert 'enctype="multipart/form-data"' in fiche_form
    assert client.get("/partenaires/nouvelle/inconnu").status_code == 404


FICHE = {
    "title": "Café des parents", "departement": "Seine-Saint-Denis", "year": "2025", "action_status": "terminee",
    "status_reason": "", "dimension": "Citoyenneté", "keywords": "Parentalité, Santé ; Lien social",
    "summary": "Un **café** pour les parents.", "initiative": "Le centre social\nUn groupe d'habitants",
    "territory": "Plusieurs quartiers", "body_md": "La description.", "public": "- Parents\n- Enfants\n- Parents",
    "partners": "Conseil départemental, CAF", "partners_description": "", "financial_resources": "200 €",
    "people_mobilised": "", "result_territory": "", "result_structure": "Démarche concertée",
    "result_inhabitants": "", "limits": "", "perspectives": "Continuer.", "contact": "", "action": "submit",
}


def test_a_finished_action_must_say_why_then_every_field_is_kept(client, world, db):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    refused = client.post("/partenaires/nouvelle/fiche-action", data=FICHE)
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Une action terminée doit dire pourquoi" in page and "Un **café** pour les parents." in page
    assert "Conseil départemental, CAF" in page and 'value="2025"' in page
    assert db.scalar(select(Contribution)) is None

    response = client.post("/partenaires/nouvelle/fiche-action", data={**FICHE, "status_reason": "Fin du financement."})
    assert response.status_code == 302
    contribution = db.scalar(select(Contribution))
    fiche = contribution.fiche
    assert contribution.kind is ContributionKind.fiche_action and contribution.status is S.submitted
    assert fiche.keywords == ["Parentalité", "Santé", "Lien social"]
    assert fiche.initiative == ["Le centre social", "Un groupe d'habitants"]
    assert fiche.public == ["Parents", "Enfants"] and fiche.partners == ["Conseil départemental", "CAF"]
    assert (fiche.year, fiche.action_status, fiche.status_reason) == (2025, "terminee", "Fin du financement.")
    assert fiche.territory == "Plusieurs quartiers" and fiche.departement == "93"  # stored by its code
    assert fiche.description == contribution.body_md == "La description."
    # Empty stays empty: nothing invented.
    assert fiche.partners_description is None and fiche.people_mobilised is None and fiche.contact is None
    assert fiche.structure_label is None

    page = client.get(f"/partenaires/contributions/{contribution.id}").get_data(as_text=True)
    for text in ("Fin du financement.", "Parentalité, Santé, Lien social", "Plusieurs quartiers", "Démarche concertée",
                 "Terminée", "Seine-Saint-Denis (93)", "<strong>café</strong>"):
        assert text in page, text


def test_the_fiche_form_takes_a_departement_by_number_or_name_and_refuses_an_unknown_one(client, world, db):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    data = {**FICHE, "status_reason": "Fin du financement."}
    refused = client.post("/partenaires/nouvelle/fiche-action", data={**data, "departement": "Seine-et-Oise"})
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert "Département inconnu : indiquez son numéro (93) ou son nom (Seine-Saint-Denis)." in page
    assert 'value="Seine-et-Oise"' in page and "Un **café** pour les parents." in page  # nothing lost
    assert db.scalar(select(Contribution)) is None
    response = client.post("/partenaires/nouvelle/fiche-action", data={**data, "departement": "val de marne",
                                                                        "action": "draft"})
    assert response.status_code == 302
    contribution = db.scalar(select(Contribution))
    assert contribution.fiche.departement == "94"
    # Editing shows it by name and number, and saving it again keeps the code.
    edit = client.get(f"/partenaires/contributions/{contribution.id}/modifier").get_data(as_text=True)
    assert 'value="Val-de-Marne (94)"' in edit
    client.post(f"/partenaires/contributions/{contribution.id}/modifier",
                data={**data, "departement": "Val-de-Marne (94)", "action": "draft"})
    db.refresh(contribution.fiche)
    assert contribution.fiche.departement == "94"


def test_each_kind_has_what_it_needs_to_be_sent(client, world, db):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    no_deadline = client.post("/partenaires/nouvelle/appel-a-projets", data={
        "title": "Appel CLAS 2027", "body_md": "Qui peut répondre…", "action": "submit"})
    assert no_deadline.status_code == 422 and "date limite" in no_deadline.get_data(as_text=True)
    ok = client.post("/partenaires/nouvelle/appel-a-projets", data={
        "title": "Appel CLAS 2027", "body_md": "Qui peut répondre…", "deadline": "2027-01-31", "action": "submit"})
    assert ok.status_code == 302

    no_link = client.post("/partenaires/nouvelle/ressource", data={
        "title": "Guide des parents", "body_md": "Un guide.", "resource_kind": "guide", "action": "submit"})
    assert no_link.status_code == 422 and "un lien ou un fichier" in no_link.get_data(as_text=True)
    assert client.post("/partenaires/nouvelle/ressource", data={
        "title": "Guide des parents", "body_md": "Un guide.", "resource_kind": "guide",
        "link": "https://caf.example.org/guide.pdf", "action": "submit"}).status_code == 302

    no_start = client.post("/partenaires/nouvelle/evenement", data={
        "title": "Forum", "body_md": "Un forum.", "action": "submit"})
    assert no_start.status_code == 422
    assert "Indiquez la date et l'heure de début" in html.unescape(no_start.get_data(as_text=True))
    assert client.post("/partenaires/nouvelle/evenement", data={
        "title": "Forum", "body_md": "Un forum.", "event_start": "2026-12-10T18:00", "event_end": "2026-12-10T20:00",
        "place": "Mairie", "audience": "Parents d'ados", "contact": "forum@tilleuls.example.org",
        "action": "submit"}).status_code == 302

    rows = {c.kind: c for c in db.scalars(select(Contribution))}
    assert rows[ContributionKind.appel_a_projets].deadline.isoformat() == "2027-01-31"
    assert rows[ContributionKind.ressource].resource_kind.value == "guide"
    event = rows[ContributionKind.evenement]
    assert (event.audience, event.contact) == ("Parents d'ados", "forum@tilleuls.example.org")
    assert event.event_end == datetime(2026, 12, 10, 20, 0, tzinfo=PARIS)


def test_a_draft_needs_only_a_title_and_is_sent_later(client, world, db):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    response = client.post("/partenaires/nouvelle/evenement", data={"title": "Idée de soirée", "action": "draft"})
    assert response.status_code == 302
    draft = db.scalar(select(Contribution))
    assert draft.status is S.draft and draft.submitted_at is None
    page = client.get(response.location).get_data(as_text=True)
    assert "Brouillon" in page and "pas encore envoyé" in page
    assert draft not in services.moderation_queue(db)  # not in the editors' queue
    incomplete = client.post(f"/partenaires/contributions/{draft.id}/modifier", data={
        "title": "Idée de soirée", "action": "submit"})
    assert incomplete.status_code == 422
    sent = client.post(f"/partenaires/contributions/{draft.id}/modifier", data={
        "title": "Soirée jeux", "body_md": "Venez jouer.", "event_start": "2026-12-10T18:00", "action": "submit"})
    assert sent.status_code == 302
    db.refresh(draft)
    assert draft.status is S.submitted and draft.submitted_at is not None
    assert [t.to_status for t in draft.transitions] == ["draft", "submitted"]


def test_preview_shows_the_sanitized_text_and_saves_nothing(client, world, db):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    response = client.post("/partenaires/nouvelle/actualite", data={
        "title": "Essai", "body_md": "Du **gras** et <script>alert(1)</script>", "action": "preview"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Aperçu" in page and "Du <strong>gras</strong> et &lt;script&gt;" in page
    assert "Du **gras** et &lt;script&gt;alert(1)&lt;/script&gt;</textarea>" in page  # the typed text, kept
    assert db.scalar(select(Contribution)) is None


def test_kind_cannot_change_while_editing(world, db):
    contribution = services.create(db, world["partner"], news(), submit=False)
    with pytest.raises(services.ModerationError, match="type"):
        services.update(db, world["partner"], contribution, news(kind=ContributionKind.ressource))


# --- The moderation queue ------------------------------------------------------------------------

def _submitted_at(db, contribution, when):
    contribution.submitted_at = when
    db.commit()


def test_queue_filters_by_kind_status_structure_and_rubrique_longest_waiting_first(client, world, db, captured_jobs):
    from datetime import timedelta

    from core.db import utcnow
    now = utcnow()
    old_event = services.create(db, world["partner"], news(kind=ContributionKind.evenement, title="Forum ancien",
                                event_start=datetime(2026, 12, 1, 18, tzinfo=PARIS)))
    _submitted_at(db, old_event, now - timedelta(days=3, hours=4))
    recent_news = services.create(db, world["partner"], news(title="Nouvelle récente"))
    _submitted_at(db, recent_news, now - timedelta(hours=2))
    theirs = services.create(db, world["other"], news(kind=ContributionKind.appel_a_projets, title="Appel voisin",
                             deadline=datetime(2027, 1, 1).date()))
    _submitted_at(db, theirs, now - timedelta(days=1))
    decided = services.create(db, world["partner"], news(title="Déjà acceptée"))
    services.decide(db, world["editor"], decided, S.accepted)
    db.commit()

    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get("/redaction/moderation/").get_data(as_text=True)
    order = [page.index(t) for t in ("Forum ancien", "Appel voisin", "Nouvelle récente")]
    assert order == sorted(order) and "Déjà acceptée" not in page
    assert "3 j 4 h" in page and "Agenda" in page and "Appels à projets" in page

    def titles(query):
        body = client.get("/redaction/moderation/?" + query).get_data(as_text=True)
        return [t for t in ("Forum ancien", "Nouvelle récente", "Appel voisin", "Déjà acceptée") if t in body]

    assert titles("type=evenement") == ["Forum ancien"]
    assert titles("rubrique=agenda") == ["Forum ancien"]
    assert titles("rubrique=appels_a_projets") == ["Appel voisin"]
    assert titles("rubrique=actualites") == ["Nouvelle récente"]
    assert titles(f"structure={world['asso'].id}") == ["Appel voisin"]
    assert titles("statut=accepted") == ["Déjà acceptée"]
    assert titles("statut=tous") == ["Forum ancien", "Nouvelle récente", "Appel voisin", "Déjà acceptée"]
    tilleuls_actualites = titles(f"statut=tous&type=actualite&structure={world['tilleuls'].id}")
    assert tilleuls_actualites == ["Nouvelle récente", "Déjà acceptée"]


def test_review_page_shows_every_field_files_and_the_full_history(client, world, db, captured_jobs):
    from contributions import uploads
    from tests.support.images import image_bytes, pdf_bytes
    files = [uploads.process_image(image_bytes("PNG", size=(60, 40), exif=False), "a.png", "Affiche du forum"),
             uploads.process_pdf(pdf_bytes(), "programme.pdf", "Programme du forum")]
    contribution = services.create(db, world["partner"], news(
        kind=ContributionKind.evenement, title="Forum des familles", body_md="Un **forum**.",
        event_start=datetime(2026, 12, 10, 18, tzinfo=PARIS), event_end=datetime(2026, 12, 10, 21, tzinfo=PARIS),
        place="Gymnase Jean Jaurès", audience="Parents et ados", contact="forum@tilleuls.example.org",
        link="https://tilleuls.example.org/forum"), files=files)
    services.decide(db, world["editor"], contribution, S.changes_requested, "Ajoutez le programme détaillé.")
    services.update(db, world["partner"], contribution, news(
        kind=ContributionKind.evenement, title="Forum des familles", body_md="Un **forum** avec programme.",
        event_start=datetime(2026, 12, 10, 18, tzinfo=PARIS), place="Gymnase Jean Jaurès",
        audience="Parents et ados", contact="forum@tilleuls.example.org"), submit=True)
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get(f"/redaction/moderation/{contribution.id}").get_data(as_text=True)
    for text in ("Forum des familles", "Un <strong>forum</strong> avec programme.", "Gymnase Jean Jaurès",
                 "Parents et ados", "forum@tilleuls.example.org", "jeudi 10 décembre 2026 à 18 h",
                 'alt="Affiche du forum"', "Programme du forum", "Agenda", "Amina Benali",
                 "Ajoutez le programme détaillé.", "Claire Martin", "Modifications demandées", "en attente depuis"):
        assert text in page, text
    history = page.split("Historique", 1)[1]
    assert history.count("<li>") == 4  # brouillon, envoyée, modifications demandées, renvoyée
