"""The statistics page, its CSV files and plots, and the yearly report (PDF, web and CLI), on
PostgreSQL with a small world whose every figure is known."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from contributions.models import (
    Contribution,
    ContributionKind,
    ContributionStatus,
    ContributionTransition,
    Structure,
    StructureKind,
)
from events.models import Event, EventStatus, EventType, Registration, RegistrationStatus
from mailing.models import Delivery, DeliveryStatus
from newsletter.models import Issue, IssueKind, IssueStatus
from parentalites.cli import main
from parentalites.statistics import figures, report
from parentalites.statistics.period import Period, year_period
from subscribers import services
from subscribers.models import Bounce, BounceKind, Subscriber, SubscriberStatus
from tests.integration.helpers import login

YEAR = 2026


def at(month: int, day: int, year: int = YEAR, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=UTC)


def subscriber(db, email, status, created, confirmed=None, **values) -> Subscriber:
    person = Subscriber(email=email, status=status, created_at=created, confirmed_at=confirmed, **values)
    db.add(person)
    return person


def issue(db, kind, title, started, numero=None) -> Issue:
    row = Issue(kind=kind, numero=numero, title=title, issue_date=started.date(), status=IssueStatus.sent,
                send_started_at=started, sent_at=started)
    db.add(row)
    db.flush()
    return row


def deliver(db, issue_row, person, status=DeliveryStatus.sent) -> Delivery:
    row = Delivery(issue_id=issue_row.id, subscriber_id=person.id, status=status)
    db.add(row)
    db.flush()
    return row


def event(db, type_, title, starts, status=EventStatus.scheduled) -> Event:
    row = Event(type=type_, title=title, starts_at=starts, ends_at=starts, status=status)
    db.add(row)
    db.flush()
    return row


def register(db, event_row, n, party=1, status=RegistrationStatus.confirmed, structure="", role="", attended=None):
    db.add(Registration(event_id=event_row.id, name=f"P {n}", email=f"p{n}@example.org", party_size=party,
                        status=status, position=n, structure=structure, role=role, attended=attended))


def contribution(db, structure, kind, status, submitted, decisions=(), created=None) -> Contribution:
    row = Contribution(structure_id=structure.id, kind=kind, status=status, title=f"{kind.value} {submitted}",
                       submitted_at=submitted, created_at=created or submitted)
    db.add(row)
    db.flush()
    for to_status, when in decisions:
        db.add(ContributionTransition(contribution_id=row.id, from_status="submitted", to_status=to_status, at=when))
    return row


@pytest.fixture
def seeded(db, world):
    """Six subscribers, a letter and an invitation of 2026 (and a letter of 2025), four events,
    five contributions, three structures: the figures the tests assert are worked out in comments."""
    a = subscriber(db, "a@example.org", SubscriberStatus.active, at(12, 10, 2025), at(12, 10, 2025),
                   topics=["clas"], role="referent_clas", commune="Bobigny", departement="93")
    b = subscriber(db, "b@example.org", SubscriberStatus.active, at(2, 5), at(2, 5), topics=[], role="animateur",
                   commune="Montreuil", departement="93")
    c = subscriber(db, "c@example.org", SubscriberStatus.active, at(3, 1), at(3, 2), topics=["clas", "sante"],
                   commune="Bobigny", departement="93")
    d = subscriber(db, "d@example.org", SubscriberStatus.active, at(1, 10), at(1, 10), role="elu",
                   commune="Ajaccio", departement="2A")
    subscriber(db, "e@example.org", SubscriberStatus.suppressed, at(6, 1, 2025), at(6, 1, 2025),
               suppressed_at=at(5, 20))
    subscriber(db, "f@example.org", SubscriberStatus.pending, at(6, 1))
    db.flush()

    old = issue(db, IssueKind.letter, "Lettre de 2025", at(11, 5, 2025), numero=1)
    deliver(db, old, a)
    letter = issue(db, IssueKind.letter, "Lettre de mars", at(3, 10), numero=2)
    to_a, to_b = deliver(db, letter, a), deliver(db, letter, b)
    deliver(db, letter, c, DeliveryStatus.failed)
    to_d = deliver(db, letter, d)
    for kind, delivery in ((BounceKind.hard, to_d), (BounceKind.soft, to_b), (BounceKind.complaint, to_a),
                           (BounceKind.delayed, to_a)):
        db.add(Bounce(kind=kind, delivery_id=delivery.id, subscriber_id=delivery.subscriber_id, source="maildir"))
    invitation = issue(db, IssueKind.invitation, "Soirée de mars", at(5, 2))
    deliver(db, invitation, a)
    deliver(db, invitation, b)
    # d leaves through the letter's own link (the real service records which letter), in April.
    assert services.unsubscribe(db, d, via="one-click", delivery_id=to_d.id)
    d.unsubscribed_at = at(4, 15)

    soiree = event(db, EventType.soiree_reaap, "Soirée écrans", at(3, 20))
    register(db, soiree, 1, party=2, structure="Centre social Les Tilleuls", role="Animatrice", attended=True)
    register(db, soiree, 2, structure=" Mairie ", role="Élue", attended=False)
    register(db, soiree, 3, status=RegistrationStatus.waitlisted, structure="Mairie")
    journee = event(db, EventType.journee_porteurs, "Journée des porteurs", at(6, 10))
    register(db, journee, 4, party=3, structure="Centre social Les Tilleuls", attended=True)
    cancelled = event(db, EventType.soiree_reaap, "Soirée annulée", at(4, 1), EventStatus.cancelled)
    register(db, cancelled, 5, structure="Ailleurs")
    last_year = event(db, EventType.rencontre_clas, "Rencontre 2025", at(10, 1, 2025))
    register(db, last_year, 6, structure="Ailleurs")

    tilleuls, asso = world["tilleuls"], world["asso"]
    tilleuls.created_at, asso.created_at = at(1, 1, 2025), at(3, 15)
    db.add(Structure(name="=1+1 Association", kind=StructureKind.association, created_at=at(9, 1)))
    S = ContributionStatus
    contribution(db, tilleuls, ContributionKind.actualite, S.accepted, at(2, 1), [("accepted", at(2, 3))])  # 2 days
    contribution(db, tilleuls, ContributionKind.fiche_action, S.published, at(2, 5),
                 [("changes_requested", at(2, 9)), ("accepted", at(2, 10))])  # 4 days
    contribution(db, asso, ContributionKind.evenement, S.submitted, at(3, 1))  # no decision
    contribution(db, asso, ContributionKind.actualite, S.rejected, at(4, 1), [("rejected", at(4, 7))])  # 6 days
    contribution(db, asso, ContributionKind.actualite, S.accepted, at(5, 1, 2025), [("accepted", at(5, 2, 2025))])
    db.commit()
    return {"letter": letter, "invitation": invitation}


def tables(db, period=None) -> dict:
    return {t.key: t for section in figures.sections(db, period or year_period(YEAR)) for t in section.tables}


@pytest.fixture
def editor(client, world):
    login(client, "redaction@reaap.test", "mdp-redaction")
    return client


def test_every_figure_of_a_known_year(app, db, seeded):
    with app.test_request_context("/?lang=fr"):
        t = tables(db)
    months = t["abonnes_par_mois"].rows
    assert len(months) == 12
    # a and e were receiving before 2026; d started in January, b in February, c in March; d left in
    # April, e was suppressed in May; f (pending) only counts as new, in June.
    assert [r[1] for r in months] == [3, 4, 5, 4, 3, 3, 3, 3, 3, 3, 3, 3]
    assert [r[2] for r in months] == [1, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    assert [r[3] for r in months] == [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]
    assert [r[4] for r in months] == [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]
    topics = dict(map(tuple, t["abonnes_par_theme"].rows))
    assert topics["Tous les thèmes (aucun choisi)"] == 1
    assert topics["Accompagnement à la scolarité (CLAS)"] == 2 and topics["Santé"] == 1 and topics["Adolescence"] == 0
    assert dict(map(tuple, t["abonnes_par_fonction"].rows)) == {
        "Référent·e CLAS": 1, "Animateur·rice": 1, "Non renseignée": 1}
    assert t["abonnes_par_commune"].rows == [["Bobigny", 2], ["Montreuil", 1]]
    assert t["abonnes_par_departement"].rows == [["93", 3]]

    assert t["envois"].rows == [["Lettre n°2 (2026-03-10)", 3, 1, 1, 1, 1, 1],
                                ["Invitation « Soirée de mars » (2026-05-02)", 2, 0, 0, 0, 0, 0]]

    by_type = {r[0]: r[1:] for r in t["evenements_par_type"].rows}
    assert by_type["Soirée du Réaap"] == [1, 3, 2]
    assert by_type["Journée des porteurs de projet"] == [1, 3, 3]
    assert by_type["Rencontre CLAS"] == [0, 0, 0]
    assert t["evenements"].rows == [["Soirée écrans (2026-03-20)", "Soirée du Réaap", 3, 1, 2],
                                    ["Journée des porteurs (2026-06-10)", "Journée des porteurs de projet", 3, 0, 3]]
    assert t["inscrits_par_structure"].rows == [["Centre social Les Tilleuls", 5], ["Mairie", 1]]
    assert t["inscrits_par_fonction"].rows == [["Non renseigné", 3], ["Animatrice", 2], ["Élue", 1]]

    assert sorted(t["contributions_par_structure"].rows) == [
        ["Association Parents Ensemble", 2], ["Centre social Les Tilleuls", 2]]
    kinds = dict(map(tuple, t["contributions_par_nature"].rows))
    assert kinds == {"Actualité": 2, "Événement": 1, "Fiche action": 1, "Ressource": 0, "Appel à projets": 0}
    statuses = dict(map(tuple, t["contributions_par_statut"].rows))
    assert statuses["Acceptée"] == 1 and statuses["Publiée"] == 1 and statuses["Refusée"] == 1
    assert statuses["En attente de relecture"] == 1
    decisions = {r[0]: r[1:] for r in t["delai_de_decision"].rows}
    assert decisions["Toutes"] == [3, 4.0]  # median of 2, 4 and 6 days
    assert decisions["Actualité"] == [2, 4.0] and decisions["Fiche action"] == [1, 4.0]
    assert "Événement" not in decisions
    assert t["fiches_action"].rows == [["Publiée", 1]]

    partners = t["partenaires"].rows
    assert partners[0] == ["2026-01", 1, 0, 0] and partners[-1][1] == 3
    assert sum(r[2] for r in partners) == 2
    assert [r[3] for r in partners][:4] == [0, 1, 1, 1]
    assert "au début de la période : 1 ; à la fin : 3 (nouvelles : 2)" in t["partenaires"].summary
    assert [r[0] for r in t["nouvelles_structures"].rows] == ["Association Parents Ensemble", "=1+1 Association"]


def test_an_unsubscribe_names_the_letter_only_through_its_own_delivery(db, seeded):
    other = Subscriber(email="g@example.org", status=SubscriberStatus.active)
    db.add(other)
    db.flush()
    letter_delivery = db.query(Delivery).filter_by(issue_id=seeded["letter"].id).first()
    # Someone else's delivery number typed into the URL names nothing.
    assert services.unsubscribe(db, other, via="one-click", delivery_id=letter_delivery.id)
    proof = other.consents[-1]
    assert proof.action == "unsubscribe:one-click" and proof.details is None


def test_the_page_shows_every_section_and_says_what_is_not_tracked(editor, seeded):
    page = editor.get("/redaction/statistiques/?du=2026-01-01&au=2026-12-31")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for title in ("Abonnés, mois par mois", "Lettres et invitations envoyées", "Rencontres par type",
                  "Délai de décision", "Structures partenaires", "Nouvelles structures"):
        assert title in html
    assert "Aucun pixel de suivi" in html
    assert "<caption>" in html and 'scope="col"' in html
    assert "/redaction/statistiques/abonnes_par_mois.svg?du=2026-01-01&amp;au=2026-12-31" in html
    assert "/redaction/statistiques/bilan/2026.pdf" in html
    svg = editor.get("/redaction/statistiques/abonnes_par_mois.svg?du=2026-01-01&au=2026-12-31")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    body = svg.get_data(as_text=True)
    assert body.startswith("<svg") and "<script" not in body and "Abonnés, mois par mois" in body


def test_the_default_period_is_this_year_and_bad_dates_are_explained(editor, db, world):
    page = editor.get("/redaction/statistiques/").get_data(as_text=True)
    this_year = datetime.now(UTC).year
    assert f'value="{this_year}-01-01"' in page and f'value="{this_year}-12-31"' in page
    page = editor.get("/redaction/statistiques/?du=hier&au=2026-02-30").get_data(as_text=True)
    assert "Date de début illisible" in page and "Date de fin illisible" in page
    page = editor.get("/redaction/statistiques/?du=2026-12-31&au=2026-01-01").get_data(as_text=True)
    assert "elles ont été inversées" in page and 'value="2026-01-01"' in page


def test_an_empty_period_says_so_and_never_fails(editor, db, seeded):
    page = editor.get("/redaction/statistiques/?du=2001-01-01&au=2001-12-31")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert html.count("Aucune donnée pour cette période.") == 17
    assert ".svg?" not in html
    assert editor.get("/redaction/statistiques/envois.svg?du=2001-01-01&au=2001-12-31").status_code == 404
    csv_file = editor.get("/redaction/statistiques/envois.csv?du=2001-01-01&au=2001-12-31")
    assert csv_file.status_code == 200 and csv_file.get_data(as_text=True).count("\r\n") == 1  # the header only
    pdf = editor.get("/redaction/statistiques/bilan/2001.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")


def test_the_csv_is_a_defused_semicolon_file_with_a_bom(editor, seeded):
    response = editor.get("/redaction/statistiques/nouvelles_structures.csv?du=2026-01-01&au=2026-12-31")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert 'filename="nouvelles_structures_2026-01-01_2026-12-31.csv"' in response.headers["Content-Disposition"]
    raw = response.data
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows == [["Structure", "Arrivée le"], ["Association Parents Ensemble", "2026-03-15"],
                    ["'=1+1 Association", "2026-09-01"]]
    rows = list(csv.reader(io.StringIO(editor.get(
        "/redaction/statistiques/envois.csv?du=2026-01-01&au=2026-12-31").data.decode("utf-8-sig")), delimiter=";"))
    assert rows[1] == ["Lettre n°2 (2026-03-10)", "3", "1", "1", "1", "1", "1"]
    assert editor.get("/redaction/statistiques/inconnu.csv").status_code == 404
    assert editor.get("/redaction/statistiques/" + "x" * 300 + ".csv").status_code == 404


def test_only_editors_see_the_statistics(client, world, seeded):
    for url in ("/redaction/statistiques/", "/redaction/statistiques/envois.csv",
                "/redaction/statistiques/envois.svg", "/redaction/statistiques/bilan/2026.pdf"):
        assert client.get(url).status_code == 302  # to the login page
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    for url in ("/redaction/statistiques/", "/redaction/statistiques/envois.csv",
                "/redaction/statistiques/envois.svg", "/redaction/statistiques/bilan/2026.pdf"):
        assert client.get(url).status_code == 403


def _pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def test_the_yearly_report_is_an_a4_pdf_with_the_indicators(editor, seeded):
    response = editor.get("/redaction/statistiques/bilan/2026.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    reader = PdfReader(io.BytesIO(response.data))
    assert len(reader.pages) > 3
    width, height = float(reader.pages[0].mediabox.width), float(reader.pages[0].mediabox.height)
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    text = _pdf_text(response.data)
    assert "Bilan d’activité 2026" in text or "Bilan d'activité 2026" in text
    assert "Lettres Parentalités envoyées" in text and "Évolution des partenariats" in text
    assert "+200 %" in text  # one structure at the start of the year, three at its end
    assert "Page 1 / " in text
    assert editor.get("/redaction/statistiques/bilan/1999.pdf").status_code == 404


def test_the_cli_writes_the_report(db, seeded, tmp_path):
    target = tmp_path / "bilan.pdf"
    result = CliRunner().invoke(main, ["report", "2026", "--pdf", str(target)])
    assert result.exit_code == 0, result.output
    assert "Bilan 2026 écrit dans" in result.output
    assert target.read_bytes().startswith(b"%PDF")
    assert "Soirée du Réaap" in _pdf_text(target.read_bytes())
    result = CliRunner().invoke(main, ["report", "1850", "--pdf", str(target)])
    assert result.exit_code == 2 and "une année entre 2000 et 2100" in result.output
    result = CliRunner().invoke(main, ["report", "2026", "--pdf", str(tmp_path / "absent" / "b.pdf")])
    assert result.exit_code == 1 and "Impossible d'écrire" in result.output


def test_a_period_object_outside_the_page(db, world, app):
    with app.test_request_context("/"):
        empty = tables(db, Period(year_period(2001).first, year_period(2001).last))
    assert all(t.is_empty for t in empty.values())


def test_the_pdf_details_the_first_events_and_adds_up_the_others(app, db, seeded):
    with app.test_request_context("/?lang=fr"):
        events = tables(db)["evenements"]
        capped = report.capped_events(events, limit=1)
    assert capped.rows == [["Soirée écrans (2026-03-20)", "Soirée du Réaap", 3, 1, 2],
                           ["Autres événements (1)", "", 3, 0, 3]]
    assert "la page des statistiques et son fichier CSV les détaillent tous" in capped.summary
    assert events.rows[1] == ["Journée des porteurs (2026-06-10)", "Journée des porteurs de projet", 3, 0, 3]
    assert report.capped_events(events, limit=2) is events
