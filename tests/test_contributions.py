"""Partner submissions, moderation, and who may see what."""
from __future__ import annotations

from datetime import datetime
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from contributions import services
from contributions.models import Contribution, ContributionKind, ContributionStatus as S
from newsletter.formatting import PARIS
from newsletter.models import OutboundEmail
from tests.conftest import login


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
    assert "<strong>jouer</strong>" in page and "10 décembre 2026 à 18:00" in page


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
                        event_start=datetime(2026, 12, 10, 18, tzinfo=PARIS), event_end=datetime(2026, 12, 10, 17, tzinfo=PARIS)))


def test_partner_cannot_read_or_change_another_structures_submission(client, world, db):
    theirs = services.create(db, world["other"], news(title="Chez les voisins"))
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
    login(client, "redaction@reaap.test", "mdp-redaction")
    queue = client.get("/redaction/moderation/").get_data(as_text=True)
    assert "Café des parents" in queue and "Centre social Les Tilleuls" in queue
    response = client.post(f"/redaction/moderation/{contribution.id}", data={"decision": "accepted", "comment": ""})
    assert response.status_code == 302
    db.refresh(contribution)
    assert contribution.status is S.accepted
    assert ("tasks.mail.send_outbound", (db.scalar(select(OutboundEmail.id)),)) in captured_jobs


XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[clic](javascript:alert(1))",
    "[clic](JaVaScRiPt:alert(1))",
    "[clic](  javascript:alert(1))",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<svg onload=alert(1)>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<p style=\"position:fixed;top:0\">x</p>",
    "![x](javascript:alert(1))",
    "<math><mi xlink:href=\"javascript:alert(1)\">x</mi></math>",
    "[x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "<object data=\"javascript:alert(1)\"></object>",
    "<body onload=alert(1)>",
    "<form action=javascript:alert(1)><button>x</button></form>",
    "<<script>script>alert(1)<</script>/script>",
    "<a href='vbscript:msgbox(1)'>x</a>",
    "<style>body{display:none}</style>",
    "<meta http-equiv=refresh content=0;url=https://evil.example>",
]


class _Markup(HTMLParser):
    """Collects the tags and attributes that a browser would actually see (escaped text is harmless)."""

    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend((name, value or "") for name, value in attrs)


@pytest.mark.parametrize("payload", XSS_PAYLOADS)
def test_hostile_markdown_never_reaches_a_page_or_the_letter(payload):
    from newsletter.text import render_markdown
    parser = _Markup()
    parser.feed(str(render_markdown(f"Texte\n\n{payload}\n\n[lien](https://ok.example)")))
    assert not set(parser.tags) & {"script", "img", "svg", "iframe", "object", "style", "meta", "form", "math", "body"}
    for name, value in parser.attributes:
        assert not name.startswith("on") and name not in ("style", "src", "xlink:href", "action")
        if name == "href":
            assert value.split(":", 1)[0].strip().lower() in ("https", "http", "mailto"), value
    assert ("href", "https://ok.example") in parser.attributes
