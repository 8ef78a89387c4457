"""The editors' subscriber list and subscriber page on PostgreSQL, through the Flask client:
search, filters, counts, pages, the export, the history from each source, each action and the line
it writes in the history, who may see it, and hostile input. The CLI export too."""
from __future__ import annotations

import csv
import html
import io
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from core.db import utcnow
from events import services as event_services
from mailing.dsn import BounceReport
from mailing.models import Delivery, DeliveryStatus
from newsletter.models import Issue, IssueKind, IssueStatus
from parentalites.cli import main
from subscribers import services
from subscribers.bounces import record_bounce
from subscribers.models import (
    ConsentRecord,
    LegalBasis,
    Subscriber,
    SubscriberEvent,
    SubscriberStatus,
)
from tests.integration.helpers import login, make_event, people


@pytest.fixture
def editor(client, world):
    login(client, "redaction@reaap.test", "mdp-redaction")
    return client


def add(db, email, status=SubscriberStatus.active, **values) -> Subscriber:
    person = Subscriber(email=email, status=status, **values)
    db.add(person)
    db.commit()
    return person


@pytest.fixture
def crowd(db):
    """A handful of subscribers with accents, structures, topics, roles, communes, départements."""
    return {
        "zoe": add(db, "zoe.lefevre@example.org", name="Zoé Lefèvre", structure_name="Centre social Les Tilleuls",
                   topics=["clas"], role="referent_clas", commune="Épinay-sur-Seine", departement="93"),
        "oeuvre": add(db, "m.loeuvre@example.org", name="Marc Lœuvre", structure_name="Association Œuvre",
                      topics=["sante"], role="animateur", commune="Bobigny", departement="93",
                      status=SubscriberStatus.pending),
        "helene": add(db, "helene@mairie-ajaccio.fr", name="HÉLÈNE Çelik", structure_name="Mairie d'Ajaccio",
                      topics=[], role="elu", commune="Ajaccio", departement="2A",
                      status=SubscriberStatus.unsubscribed),
        "gone": add(db, "gone@example.net", name="Paul Martin", structure_name="École Jules-Ferry",
                    topics=["petite_enfance"], role=None, commune="Montreuil", departement="93",
                    status=SubscriberStatus.suppressed, suppressed_reason="Rebond définitif (5.1.1)"),
    }


def emails_in(page: str) -> set[str]:
    return {address for address in ("zoe.lefevre@example.org", "m.loeuvre@example.org", "helene@mairie-ajaccio.fr",
                                     "gone@example.net") if f">{address}</a>" in page}


# --- Who may see it ----------------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("get", "/redaction/abonnes/"), ("get", "/redaction/abonnes/export.csv"), ("get", "/redaction/abonnes/{id}"),
    ("get", "/redaction/abonnes/{id}/modifier"), ("post", "/redaction/abonnes/{id}/modifier"),
    ("post", "/redaction/abonnes/{id}/desabonner"), ("post", "/redaction/abonnes/{id}/lever-suspension"),
])
def test_only_editors(client, db, world, crowd, method, path):
    url = path.format(id=crowd["zoe"].id)
    anonymous = getattr(client, method)(url)
    assert anonymous.status_code == 302 and "/connexion" in anonymous.headers["Location"]
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    assert getattr(client, method)(url, data={"email": "x@example.org", "reason": "x"}).status_code == 403
    db.expire_all()
    person = db.get(Subscriber, crowd["zoe"].id)
    assert person.email == "zoe.lefevre@example.org" and person.status is SubscriberStatus.active
    assert db.scalar(select(SubscriberEvent.id)) is None


def test_the_dashboard_links_the_list(editor, crowd):
    assert 'href="/redaction/abonnes/"' in editor.get("/redaction/").get_data(as_text=True)


# --- The list ----------------------------------------------------------------------------------

def test_counts_per_status_and_the_whole_list(editor, crowd):
    page = editor.get("/redaction/abonnes/").get_data(as_text=True)
    assert emails_in(page) == {"zoe.lefevre@example.org", "m.loeuvre@example.org", "helene@mairie-ajaccio.fr",
                               "gone@example.net"}
    assert "Tous : 4" in page
    for label in ("Actifs", "En attente de confirmation", "Désabonnés", "Suspendus"):
        assert f'{label} : <span class="count">1</span>' in page
    assert "<caption>" in page and 'scope="col"' in page and 'scope="row"' in page


@pytest.mark.parametrize("q,found", [
    ("zoe lefevre", {"zoe.lefevre@example.org"}),        # accents folded in the data
    ("ZOÉ", {"zoe.lefevre@example.org"}),                # and in the query, any case
    ("loeuvre", {"m.loeuvre@example.org"}),              # œ
    ("œuvre", {"m.loeuvre@example.org"}),
    ("helene celik", {"helene@mairie-ajaccio.fr"}),      # É, Ç in capitals
    ("tilleuls", {"zoe.lefevre@example.org"}),           # structure
    ("example.net", {"gone@example.net"}),               # address
    ("jules ferry", {"gone@example.net"}),               # each word anywhere
    ("jules dupont", set()),                             # every word must appear
    ("jules-ferry", {"gone@example.net"}),
    ("ecole", {"gone@example.net"}),
])
def test_search(editor, crowd, q, found):
    page = editor.get("/redaction/abonnes/", query_string={"q": q})
    assert page.status_code == 200
    assert emails_in(page.get_data(as_text=True)) == found


@pytest.mark.parametrize("args,found", [
    ({"statut": "pending"}, {"m.loeuvre@example.org"}),
    ({"theme": "clas"}, {"zoe.lefevre@example.org", "helene@mairie-ajaccio.fr"}),  # no topic = every topic
    ({"fonction": "elu"}, {"helene@mairie-ajaccio.fr"}),
    ({"commune": "epinay-sur-seine"}, {"zoe.lefevre@example.org"}),   # accents and case folded
    ({"commune": "  ÉPINAY-SUR-SEINE "}, {"zoe.lefevre@example.org"}),
    ({"commune": "epinay"}, set()),                                    # the whole name
    ({"departement": "2a"}, {"helene@mairie-ajaccio.fr"}),
    ({"departement": "93", "statut": "active"}, {"zoe.lefevre@example.org"}),
    ({"departement": "93", "q": "martin"}, {"gone@example.net"}),
])
def test_filters(editor, crowd, args, found):
    page = editor.get("/redaction/abonnes/", query_string=args)
    assert page.status_code == 200
    assert emails_in(page.get_data(as_text=True)) == found


def test_counts_follow_the_other_filters(editor, crowd):
    page = editor.get("/redaction/abonnes/", query_string={"departement": "93", "statut": "active"}).get_data(
        as_text=True)
    assert "Tous : 3" in page                                    # 93, every status
    assert 'Actifs : <span class="count">1</span>' in page
    assert 'Suspendus : <span class="count">1</span>' in page
    assert 'Désabonnés : <span class="count">0</span>' in page  # Ajaccio is not in the 93
    assert 'aria-current="true">Actifs' in page


@pytest.mark.parametrize("args", [
    {"statut": "deleted"}, {"theme": "x" * 5000}, {"fonction": "'; DROP TABLE subscribers; --"},
    {"departement": "<script>alert(1)</script>"}, {"page": "99999999999999999999"}, {"page": "-1"},
    {"page": "1e9"}, {"q": "%"}, {"q": "_"}, {"q": "\\"}, {"q": "' OR 1=1 --"}, {"q": "a\x00b"},
    {"q": "<script>alert(1)</script>"}, {"q": "x" * 10000}, {"commune": "\x00"},
])
def test_hostile_input_never_breaks_the_list(editor, crowd, args):
    response = editor.get("/redaction/abonnes/", query_string=args)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in text
    if args.get("q") in ("%", "_", "\\", "' OR 1=1 --"):
        assert emails_in(text) == set()  # wildcards are searched as text
    export = editor.get("/redaction/abonnes/export.csv", query_string=args)
    assert export.status_code == 200 and export.get_data().startswith(b"\xef\xbb\xbfemail;")


def test_bytes_that_are_not_utf8_in_the_query_string(editor, crowd):
    assert editor.get("/redaction/abonnes/?q=%FF%FE%00&page=%C0%AF&statut=%E9").status_code == 200


def test_the_search_uses_the_trigram_index_when_there_is_one(db, crowd):
    """The migration indexes PG_SEARCH_DOCUMENT with pg_trgm when it can: the query's expression must
    be the same, or PostgreSQL reads every row."""
    from subscribers import directory
    if not db.scalar(text("SELECT 1 FROM pg_indexes WHERE indexname = 'ix_subscribers_search_trgm'")):
        pytest.skip("pg_trgm is not available on this server: the search reads every row")
    filters = directory.parse_filters({"q": "lefèvre"})
    query = select(Subscriber.id).where(directory.condition(filters, db=db))
    compiled = query.compile(dialect=db.get_bind().dialect, compile_kwargs={"literal_binds": True})
    db.execute(text("SET LOCAL enable_seqscan = off"))  # four rows: the planner would rather scan them
    plan = "\n".join(db.scalars(text(f"EXPLAIN {compiled}")))
    db.rollback()
    assert "ix_subscribers_search_trgm" in plan, plan


def test_an_unknown_filter_is_said_in_french(editor, crowd):
    text = editor.get("/redaction/abonnes/", query_string={"statut": "deleted"}).get_data(as_text=True)
    assert "Statut inconnu, filtre ignoré." in text
    assert len(emails_in(text)) == 4


def test_pages(editor, db, world):
    people(db, 120, prefix="pro")
    first = editor.get("/redaction/abonnes/").get_data(as_text=True)
    assert first.count('<th scope="row">') == 50
    assert ">pro119@example.org</a>" in first and ">pro69@example.org</a>" not in first  # most recent first
    assert '<span aria-current="page"><span class="visually-hidden">Page </span>1</span>' in first
    assert "page=2" in first and "page 1 sur 3" in first
    last = editor.get("/redaction/abonnes/", query_string={"page": "3"}).get_data(as_text=True)
    assert last.count('<th scope="row">') == 20 and ">pro0@example.org</a>" in last
    beyond = editor.get("/redaction/abonnes/", query_string={"page": "99999999999999999999"})
    current = '<span aria-current="page"><span class="visually-hidden">Page </span>{}</span>'
    assert beyond.status_code == 200 and current.format(1) in beyond.get_data(as_text=True)
    far = editor.get("/redaction/abonnes/", query_string={"page": "999999"}).get_data(as_text=True)
    assert current.format(3) in far
    assert "rel=\"prev\"" in far and ">pro0@example.org</a>" in far


# --- The export --------------------------------------------------------------------------------

def read_csv(data: bytes) -> list[dict]:
    assert data.startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(data[3:].decode("utf-8")), delimiter=";"))


def test_export_of_the_selection(editor, db, crowd):
    crowd["zoe"].legal_basis = LegalBasis.consent
    crowd["oeuvre"].name = "=HYPERLINK(\"http://evil.test\",\"clic\")"
    crowd["oeuvre"].structure_name = "+33 1 23 45"
    db.add(ConsentRecord(subscriber_id=crowd["zoe"].id, action="confirm", ip="203.0.113.7"))
    db.commit()
    response = editor.get("/redaction/abonnes/export.csv", query_string={"departement": "93"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    data = response.get_data()
    assert data.splitlines()[0].decode("utf-8-sig").startswith("email;nom;structure;statut;thèmes;rôle;commune;")
    rows = read_csv(data)
    assert [r["email"] for r in rows] == ["zoe.lefevre@example.org", "m.loeuvre@example.org", "gone@example.net"]
    zoe, oeuvre, gone = rows
    assert zoe["base légale"] == "consentement" and zoe["date du consentement"].startswith(str(date.today().year))
    assert zoe["statut"] == "actif" and zoe["thèmes"] == "Accompagnement à la scolarité (CLAS)"
    assert zoe["rôle"] == "Référent·e CLAS" and zoe["département"] == "93"
    assert oeuvre["nom"] == "'=HYPERLINK(\"http://evil.test\",\"clic\")" and oeuvre["structure"] == "'+33 1 23 45"
    assert oeuvre["statut"] == "en attente" and oeuvre["date du consentement"] == ""
    assert gone["statut"] == "suspendu"
    only = read_csv(editor.get("/redaction/abonnes/export.csv", query_string={"q": "lœuvre"}).get_data())
    assert [r["email"] for r in only] == ["m.loeuvre@example.org"]


def test_the_list_links_the_export_of_its_selection(editor, crowd):
    page = editor.get("/redaction/abonnes/", query_string={"q": "zoé", "statut": "active"}).get_data(as_text=True)
    assert "/redaction/abonnes/export.csv?q=zo%C3%A9&amp;statut=active" in page


def test_cli_export(db, crowd, tmp_path):
    target = tmp_path / "abonnes.csv"
    result = CliRunner().invoke(main, ["subscribers", "export", str(target)])
    assert result.exit_code == 0, result.output
    assert "4 abonnés écrits" in result.output
    assert len(read_csv(target.read_bytes())) == 4
    result = CliRunner().invoke(main, ["subscribers", "export", str(target), "--status", "active"])
    assert result.exit_code == 0 and "1 abonné écrit" in result.output
    assert [r["email"] for r in read_csv(target.read_bytes())] == ["zoe.lefevre@example.org"]
    bad = CliRunner().invoke(main, ["subscribers", "export", str(target), "--status", "deleted"])
    assert bad.exit_code == 2


# --- A subscriber's page -----------------------------------------------------------------------

def test_page_shows_data_consent_proofs_and_history_from_every_source(editor, db, world, captured_jobs):
    services.subscribe(db, "Camille.Roux@Example.org", "Camille Roux", "Centre social",
                       request=services.Request(ip="198.51.100.4", user_agent="Firefox/140 (test)"))
    db.commit()
    person = db.scalar(select(Subscriber).where(Subscriber.email == "camille.roux@example.org"))
    consent = db.scalar(select(ConsentRecord).where(ConsentRecord.subscriber_id == person.id))
    assert services.confirm(db, services.confirmation_token(person, consent)) is services.ConfirmResult.confirmed
    db.commit()
    letter = Issue(numero=7, title="Lettre de printemps", issue_date=date(2026, 4, 1), status=IssueStatus.sent,
                   kind=IssueKind.letter)
    invitation = Issue(title="Soirée des parents", issue_date=date(2026, 5, 1), status=IssueStatus.sent,
                       kind=IssueKind.invitation)
    db.add_all([letter, invitation])
    db.flush()
    db.add_all([Delivery(issue_id=letter.id, subscriber_id=person.id, status=DeliveryStatus.sent, smtp_code=250,
                         sent_at=utcnow() + timedelta(minutes=1)),
                Delivery(issue_id=invitation.id, subscriber_id=person.id, status=DeliveryStatus.failed,
                         smtp_code=550, smtp_reply="5.1.1 mailbox unavailable",
                         sent_at=utcnow() + timedelta(minutes=2))])
    db.commit()
    event = make_event(db, title="Café des parents à Bobigny")
    event_services.register(db, event, "Camille Roux", "CAMILLE.ROUX@example.org", consent=True)
    db.commit()
    record_bounce(db, BounceReport(kind="soft", recipients={"camille.roux@example.org"}, status="4.2.2",
                                   diagnostic="mailbox full"), None, "webhook",
                  received_at=utcnow() + timedelta(minutes=3))
    record_bounce(db, BounceReport(kind="complaint", recipients={"camille.roux@example.org"}), None, "webhook",
                  received_at=utcnow() + timedelta(minutes=4))
    db.commit()

    text = editor.get(f"/redaction/abonnes/{person.id}").get_data(as_text=True)
    assert "Camille Roux" in text and "Centre social" in text
    # consent proofs: when, IP, user agent, the exact text shown
    assert "198.51.100.4" in text and "Firefox/140 (test)" in text
    assert services.CONSENT_WORDING.replace("'", "&#39;") in text
    # history, most recent first
    order = ["Plainte pour courrier indésirable", "Adresse suspendue", "Rebond temporaire",
             "Invitation : Soirée des parents", "Lettre n°7 : Lettre de printemps", "Abonnement confirmé",
             "Demande d&#39;abonnement"]
    positions = [text.index(label) for label in order]
    assert positions == sorted(positions), list(zip(order, positions, strict=True))
    assert "Inscription à l&#39;événement « Café des parents à Bobigny »" in text
    assert "Remise au serveur de messagerie (250)" in text and "5.1.1 mailbox unavailable" in text
    assert "4.2.2" in text and "mailbox full" in text
    assert "{# privacy actions" not in text  # the placeholder is a template comment


def test_unknown_or_huge_ids_are_not_found(editor, crowd):
    assert editor.get("/redaction/abonnes/0").status_code == 404
    assert editor.get("/redaction/abonnes/99999999999999999999").status_code == 404
    assert editor.post("/redaction/abonnes/99999999999999999999/desabonner").status_code == 404


# --- Actions -----------------------------------------------------------------------------------

def events_of(db, person) -> list[SubscriberEvent]:
    db.expire_all()
    return list(db.scalars(select(SubscriberEvent).where(SubscriberEvent.subscriber_id == person.id)
                           .order_by(SubscriberEvent.id)))


def test_edit_records_what_changed_and_who(editor, db, crowd):
    zoe = crowd["zoe"]
    form = editor.get(f"/redaction/abonnes/{zoe.id}/modifier").get_data(as_text=True)
    assert 'value="zoe.lefevre@example.org"' in form and 'for="departement"' in form
    response = editor.post(f"/redaction/abonnes/{zoe.id}/modifier", data={
        "email": "  Zoe.Lefevre@EXAMPLE.org ", "name": "Zoé Lefèvre-Durand", "structure": "Centre social Les Tilleuls",
        "topics": ["clas", "sante"], "role": "animateur", "commune": " Épinay-sur-Seine ", "departement": "93"})
    assert response.status_code == 302
    db.expire_all()
    zoe = db.get(Subscriber, zoe.id)
    assert zoe.email == "zoe.lefevre@example.org" and zoe.name == "Zoé Lefèvre-Durand"
    assert zoe.topics == ["clas", "sante"] and zoe.role == "animateur"
    [event] = events_of(db, zoe)
    assert event.kind == "edited" and event.actor == "redaction@reaap.test"
    assert "Nom : Zoé Lefèvre → Zoé Lefèvre-Durand" in event.detail
    assert "Fonction : Référent·e CLAS → Animateur·rice" in event.detail and "Adresse" not in event.detail
    page = editor.get(f"/redaction/abonnes/{zoe.id}").get_data(as_text=True)
    assert "Fiche modifiée par la rédaction" in page and "Par redaction@reaap.test" in page


def test_edit_changes_the_address(editor, db, crowd):
    zoe = crowd["zoe"]
    response = editor.post(f"/redaction/abonnes/{zoe.id}/modifier", data={"email": "Zoe@Nouveau.Example.ORG",
                                                                          "departement": "93"})
    assert response.status_code == 302
    db.expire_all()
    assert db.get(Subscriber, zoe.id).email == "zoe@nouveau.example.org"
    assert "Adresse : zoe.lefevre@example.org → zoe@nouveau.example.org" in events_of(db, zoe)[0].detail


@pytest.mark.parametrize("data,message", [
    ({"email": "m.loeuvre@EXAMPLE.org"}, "Cette adresse est déjà celle d&#39;un autre abonné."),
    ({"email": "pas-une-adresse"}, "Adresse e-mail invalide"),
    ({"email": ""}, "Indiquez l&#39;adresse e-mail."),
    ({"email": "zoe.lefevre@example.org", "departement": "99"}, "Département inconnu"),
    ({"email": "zoe.lefevre@example.org", "name": "x" * 201}, "200"),
])
def test_edit_refuses_bad_input_in_french_and_changes_nothing(editor, db, crowd, data, message):
    zoe = crowd["zoe"]
    response = editor.post(f"/redaction/abonnes/{zoe.id}/modifier", data=data)
    assert response.status_code == 422
    text = html.unescape(response.get_data(as_text=True))
    assert html.unescape(message) in text, text[text.find('role="alert"'):][:600]
    db.expire_all()
    assert db.get(Subscriber, zoe.id).email == "zoe.lefevre@example.org"
    assert events_of(db, zoe) == []


def test_unsubscribe_by_an_editor(editor, db, crowd):
    zoe = crowd["zoe"]
    assert editor.post(f"/redaction/abonnes/{zoe.id}/desabonner").status_code == 302
    db.expire_all()
    assert db.get(Subscriber, zoe.id).status is SubscriberStatus.unsubscribed
    [event] = events_of(db, zoe)
    assert (event.kind, event.actor, event.detail) == ("unsubscribed", "redaction@reaap.test", "Par la rédaction")
    assert db.scalar(select(ConsentRecord.action).where(ConsentRecord.subscriber_id == zoe.id)) == "unsubscribe:editor"
    again = editor.post(f"/redaction/abonnes/{zoe.id}/desabonner", follow_redirects=True)
    assert "ne recevait déjà plus la lettre" in again.get_data(as_text=True)
    assert len(events_of(db, zoe)) == 1


def test_lifting_a_suppression_needs_a_reason(editor, db, crowd):
    gone = crowd["gone"]
    for reason in ("", "   "):
        response = editor.post(f"/redaction/abonnes/{gone.id}/lever-suspension", data={"reason": reason})
        assert response.status_code == 422
        assert "Indiquez pourquoi la suspension est levée." in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Subscriber, gone.id).status is SubscriberStatus.suppressed and events_of(db, gone) == []


@pytest.mark.parametrize("confirmed,unsubscribed,basis,expected", [
    (True, False, None, SubscriberStatus.active),
    (False, False, LegalBasis.legitimate_interest, SubscriberStatus.active),
    (False, False, None, SubscriberStatus.pending),
    (True, True, None, SubscriberStatus.unsubscribed),   # a complaint withdrew consent
])
def test_lifting_a_suppression(editor, db, crowd, confirmed, unsubscribed, basis, expected):
    gone = crowd["gone"]
    now = utcnow()
    gone.confirmed_at = now - timedelta(days=30) if confirmed else None
    gone.unsubscribed_at = now - timedelta(days=1) if unsubscribed else None
    gone.legal_basis = basis
    db.commit()
    response = editor.post(f"/redaction/abonnes/{gone.id}/lever-suspension",
                           data={"reason": "Boîte de nouveau active, vérifié par téléphone."})
    assert response.status_code == 302
    db.expire_all()
    person = db.get(Subscriber, gone.id)
    assert person.status is expected and person.suppressed_reason is None
    [event] = events_of(db, gone)
    assert event.kind == "unsuppressed" and event.actor == "redaction@reaap.test"
    assert "Boîte de nouveau active" in event.detail and "Rebond définitif (5.1.1)" in event.detail
    assert editor.post(f"/redaction/abonnes/{gone.id}/lever-suspension",
                       data={"reason": "encore"}).status_code == 422  # no longer suppressed


def test_services_write_the_history(db, world, captured_jobs):
    services.subscribe(db, "lea@example.org", "Léa", preferences={"topics": ["clas"], "role": None, "commune": ""})
    db.commit()
    lea = db.scalar(select(Subscriber).where(Subscriber.email == "lea@example.org"))
    consent = db.scalar(select(ConsentRecord).where(ConsentRecord.subscriber_id == lea.id))
    services.confirm(db, services.confirmation_token(lea, consent))
    services.set_preferences(db, lea, topics=["sante"], role="elu", commune="Pantin")
    services.set_preferences(db, lea, topics=["sante"], role="elu", commune="Pantin")  # no change: no line
    services.unsubscribe(db, lea, via="one-click")
    db.commit()
    kinds = [(e.kind, e.actor) for e in events_of(db, lea)]
    assert kinds == [("preferences", None), ("subscribed", None), ("confirmed", None), ("preferences", None),
                     ("unsubscribed", None)]
    assert "commune : Pantin" in events_of(db, lea)[3].detail
    hard = add(db, "hard@example.org")
    record_bounce(db, BounceReport(kind="hard", recipients={"hard@example.org"}, status="5.1.1"), None, "webhook")
    db.commit()
    [event] = events_of(db, hard)
    assert event.kind == "suppressed" and "5.1.1" in event.detail
