"""Issue 11, items 3 and 4: the site settings an admin sets in the back office win over the
environment in real sends (From, Reply-To, List-Id, logo, colour, footer, publisher), and the
letter's blocks (free text, banner, button, « À la une ») with its table of contents, in the e-mail,
its text part and the frozen archive. Bad input is refused in French and keeps nothing."""
from __future__ import annotations

import io
from datetime import date

import lxml.html
import pytest
from PIL import Image
from sqlalchemy import select

from accounts.auth import create_user
from accounts.models import JournalEntry, Role
from contributions import services as contributions
from contributions.models import ContributionKind
from contributions.models import ContributionStatus as S
from core.site_settings import SiteSetting
from newsletter import issues
from newsletter.letter_blocks import IssueBlock
from newsletter.models import Issue
from tests.integration.helpers import letters, login, people, wait_for, wait_sent


def png(width=300, height=80, colour=(255, 255, 255)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def admin(db, world):
    user = create_user(db, "admin@reaap.test", "Alex Admin", Role.admin, "mdp-administration")
    db.commit()
    return user


@pytest.fixture
def issue(db, world):
    issue = issues.create_issue(db, world["editor"], 1, "Lettre d'automne", date(2026, 10, 1), "Un **édito**.")
    for title, rubrique in (("Atelier parents", "actualites"), ("Soutien scolaire", "clas")):
        c = contributions.create(db, world["partner"], contributions.ContributionData(
            kind=ContributionKind.actualite, title=title, body_md=f"Texte de {title}.", link="https://exemple.org/a"))
        contributions.decide(db, world["editor"], c, S.accepted)
        issues.add_item(db, issue, c, rubrique)
    db.commit()
    return issue


SETTINGS = {
    "network_name": "Réaap du Val", "sender_name": "La lettre du Réaap", "sender_address": "lettre@reaap-val.test",
    "reply_to": "redaction@reaap-val.test", "list_id": "Lettre du Réaap <lettre.reaap-val.test>",
    "primary_colour": "#1d4e89", "footer_text": "Réaap du Val · 12 rue des Écoles, 93000 Bobigny",
    "publisher": "Marie Dupont", "privacy_contact": "dpo@reaap-val.test", "issues_per_year": "4",
}


def assert_harmless(html: str) -> None:
    """No script, frame or event handler, no javascript: link: hostile markup shows as text at most."""
    tree = lxml.html.document_fromstring(html)
    assert not tree.xpath("//script | //iframe | //object"), "an active element"
    for element in tree.iter():
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), name
            assert not value.strip().lower().startswith("javascript:"), value


def save_settings(client, **changes):
    data = {**SETTINGS, **changes}
    return client.post("/redaction/parametres", data=data, content_type="multipart/form-data")


def add_blocks(client, issue_id: int, featured_id: int) -> None:
    for data in (
        {"kind": "featured", "contribution_id": str(featured_id)},
        {"kind": "text", "placement": "top", "title": "Le mot du réseau",
         "body_md": "Bienvenue <script>alert(1)</script><img src=x onerror=alert(2)> **à tous**."},
        {"kind": "banner", "placement": "clas", "alt_text": "Des enfants au goûter du CLAS",
         "image": (io.BytesIO(png(1200, 300, (30, 80, 140))), "banniere.png")},
        {"kind": "button", "placement": "bottom", "label": "S'inscrire à la journée",
         "url": "https://reaap-val.test/journee"},
    ):
        response = client.post(f"/redaction/numeros/{issue_id}/blocs", data=data, content_type="multipart/form-data")
        assert response.status_code == 302, response.get_data(as_text=True)[:2000]


def test_a_test_letter_carries_the_settings_the_blocks_and_the_table_of_contents(
        client, db, world, admin, issue, smtp, celery_worker):
    login(client, "admin@reaap.test", "mdp-administration")
    settings_page = client.get("/redaction/parametres")
    assert settings_page.status_code == 200 and len(lxml.html.fromstring(settings_page.get_data()).xpath("//h1")) == 1
    response = save_settings(client, logo=(io.BytesIO(png(800, 200)), "logo.png"))
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    page = client.get("/redaction/parametres").get_data(as_text=True)
    assert "Revenir à la valeur par défaut" in page and "#1d4e89" in page and "/site/logo/" in page
    # Each change is journalled, old → new, by whom.
    changes = {e.target: e for e in db.scalars(select(JournalEntry).where(JournalEntry.action == "settings.changed"))}
    assert len(changes) == 11  # ten fields and the logo
    colour = changes["setting:primary_colour"]
    assert colour.summary == "Paramètre « Couleur principale » modifié : #7a1f5c → #1d4e89"
    assert colour.actor_email == "admin@reaap.test" and colour.details["new"] == "#1d4e89"
    client.post("/deconnexion")

    login(client, "redaction@reaap.test", "mdp-redaction")
    featured = issue.items[1].contribution
    add_blocks(client, issue.id, featured.id)
    added = db.scalars(select(JournalEntry).where(JournalEntry.action == "letter.block_added")).all()
    assert len(added) == 4 and {e.target for e in added} == {f"issue:{issue.id}"}
    assert all(e.actor_email == "redaction@reaap.test" for e in added)
    page = client.get(f"/redaction/numeros/{issue.id}").get_data(as_text=True)
    assert 'width="375"' in page and 'width="600"' in page  # the two previews side by side
    response = client.post(f"/redaction/numeros/{issue.id}/test", data={"address": "relecture@example.org"})
    assert response.status_code == 302

    [mail] = wait_for(lambda: smtp.to("relecture@example.org"), 60, message="the test letter")
    message = mail.message
    assert message["From"] == '"La lettre du Réaap" <lettre@reaap-val.test>' or \
        message["From"].addresses[0].addr_spec == "lettre@reaap-val.test"
    assert message["From"].addresses[0].display_name == "La lettre du Réaap"
    assert message["Reply-To"] == "redaction@reaap-val.test"
    assert message["List-Id"] == "Lettre du Réaap <lettre.reaap-val.test>"
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    site = db.scalar(select(SiteSetting).where(SiteSetting.key == "logo"))
    assert "https://parentalites.test/site/logo/" in html and site is not None
    assert 'background-color:#1d4e89' in html.replace(" ", "") or "#1d4e89" in html
    assert "Marie Dupont" in html and "Directeur·rice de la publication : Marie Dupont" in text
    assert "12 rue des Écoles" in html and "dpo@reaap-val.test" in html
    # Blocks and table of contents.
    assert "Au sommaire" in html and 'href="#rubrique-clas"' in html and 'id="rubrique-clas"' in html
    assert 'href="#a-la-une"' in html and "À la une" in html
    assert html.index("À la une") < html.index("Soutien scolaire") < html.index("Atelier parents")
    assert html.count("<h3 style=\"font-size:18px;margin:0 0 4px 0\">Soutien scolaire</h3>") == 1  # not twice
    assert "Le mot du réseau" in html and "<strong>à tous</strong>" in html
    assert_harmless(html)
    assert 'alt="Des enfants au goûter du CLAS"' in html and "/lettres/images/" in html
    assert "inscrire à la journée" in html and 'href="https://reaap-val.test/journee"' in html
    assert "AU SOMMAIRE" in text and "== À LA UNE ==" in text
    assert "S'inscrire à la journée : https://reaap-val.test/journee" in text
    # No hidden preheader in the background's colour (SpamAssassin's HTML_FONT_LOW_CONTRAST).
    assert "display:none" not in html.replace(" ", "")
    # The images the letter points to are served.
    logo_path = html.split("https://parentalites.test/site/logo/")[1].split('"')[0]
    assert client.get(f"/site/logo/{logo_path}").status_code == 200
    banner_path = html.split("https://parentalites.test/lettres/images/")[1].split('"')[0]
    banner = client.get(f"/lettres/images/{banner_path}")
    assert banner.status_code == 200 and banner.mimetype in ("image/png", "image/jpeg")
    assert client.get("/lettres/images/999-0000000000000000.png").status_code == 404


def test_a_real_send_uses_the_settings_in_its_headers_and_the_archive_keeps_the_blocks(
        client, db, world, admin, issue, smtp, celery_worker):
    people(db, 2)
    login(client, "admin@reaap.test", "mdp-administration")
    assert save_settings(client).status_code == 302
    client.post("/deconnexion")
    login(client, "redaction@reaap.test", "mdp-redaction")
    add_blocks(client, issue.id, issue.items[0].contribution.id)
    client.post(f"/redaction/numeros/{issue.id}/envoyer", data={"confirm": "1", "expected": "2"})
    wait_sent(db, issue.id)
    received = letters(smtp)
    assert len(received) == 2
    for mail in received:
        assert mail.message["From"].addresses[0].addr_spec == "lettre@reaap-val.test"
        assert mail.message["Reply-To"] == "redaction@reaap-val.test"
        assert mail.message["List-Id"] == "Lettre du Réaap <lettre.reaap-val.test>"
        assert mail.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # The archive shows the frozen letter, blocks included, even after the settings change.
    client.post("/deconnexion")
    login(client, "admin@reaap.test", "mdp-administration")
    assert save_settings(client, primary_colour="#225522", publisher="Paul Durand").status_code == 302
    page = client.get("/lettres/1/").get_data(as_text=True)
    assert "Au sommaire" in page and "Le mot du réseau" in page and "inscrire à la journée" in page
    assert 'alt="Des enfants au goûter du CLAS"' in page
    assert_harmless(page)
    email_page = client.get("/lettres/1/email.html").get_data(as_text=True)
    assert "Marie Dupont" in email_page and "Paul Durand" not in email_page
    assert "#1d4e89" in email_page and "#225522" not in email_page
    # A sent letter's blocks cannot change any more.
    block = db.scalar(select(IssueBlock).where(IssueBlock.issue_id == issue.id, IssueBlock.kind == "text"))
    client.post("/deconnexion")
    login(client, "redaction@reaap.test", "mdp-redaction")
    client.post(f"/redaction/numeros/{issue.id}/blocs/{block.id}/retirer")
    db.expire_all()
    assert db.get(IssueBlock, block.id) is not None


def test_a_value_goes_back_to_the_environments_default(client, db, admin):
    login(client, "admin@reaap.test", "mdp-administration")
    assert save_settings(client).status_code == 302
    from core import site_settings
    assert site_settings.current().list_id == "Lettre du Réaap <lettre.reaap-val.test>"
    assert client.post("/redaction/parametres", data={"reset": "list_id"}).status_code == 302
    site = site_settings.current()
    assert site.list_id == "Lettre Parentalités <lettre.parentalites.localhost>"  # LIST_ID's default
    assert "list_id" not in site.overridden and site.publisher == "Marie Dupont"
    assert client.post("/redaction/parametres", data={"reset": "nope"}).status_code == 400


# --- Bad input ------------------------------------------------------------------------------------

def test_a_colour_with_poor_contrast_is_refused_with_its_ratio_and_nothing_is_saved(client, db, admin):
    login(client, "admin@reaap.test", "mdp-administration")
    response = save_settings(client, primary_colour="#777777")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "4,48:1" in page and "4,5:1" in page
    assert 'value="Marie Dupont"' in page  # what was typed comes back
    db.expire_all()
    assert db.scalars(select(SiteSetting)).all() == []  # not even the good values


@pytest.mark.parametrize(("upload", "says"), [
    ((b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "logo.svg"), "ni une image"),
    ((b"%PDF-1.4 pas un logo", "logo.png"), "ni une image"),
    ((b"\x89PNG\r\n\x1a\n" + b"0" * (6 * 1024 * 1024), "enorme.png"), "la limite est de 5 Mo"),
])
def test_a_logo_that_is_not_an_image_or_too_large_is_refused(client, db, admin, upload, says):
    login(client, "admin@reaap.test", "mdp-administration")
    data, name = upload
    response = save_settings(client, logo=(io.BytesIO(data), name))
    assert response.status_code == 422
    assert says in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(SiteSetting, "logo") is None


def test_a_pixel_bomb_logo_is_refused(client, db, admin):
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")  # tiny file, 400 million pixels
    login(client, "admin@reaap.test", "mdp-administration")
    response = save_settings(client, logo=(io.BytesIO(out.getvalue()), "bombe.png"))
    assert response.status_code == 422 and "pixels" in response.get_data(as_text=True)


def test_an_editor_gets_403_on_the_settings_even_forging_a_post(client, db, world, admin):
    login(client, "redaction@reaap.test", "mdp-redaction")
    assert client.get("/redaction/parametres").status_code == 403
    assert save_settings(client).status_code == 403
    assert client.post("/redaction/parametres", data={"reset": "list_id"}).status_code == 403
    db.expire_all()
    assert db.scalars(select(SiteSetting)).all() == []
    client.post("/deconnexion")
    assert client.get("/redaction/parametres").status_code == 302  # anonymous: to the login page


def test_the_settings_page_checks_the_csrf_token(db, admin):
    from parentalites.app import create_app
    app = create_app({"TESTING": True, "RATELIMIT_ENABLED": False})  # CSRF on
    client = app.test_client()
    login_page = client.get("/connexion").get_data(as_text=True)
    token = login_page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    client.post("/connexion", data={"email": "admin@reaap.test", "password": "mdp-administration",
                                    "csrf_token": token})
    assert save_settings(client).status_code == 400
    db.expire_all()
    assert db.scalars(select(SiteSetting)).all() == []


def test_a_button_with_a_javascript_url_is_refused_and_what_was_typed_comes_back(client, db, world, issue):
    login(client, "redaction@reaap.test", "mdp-redaction")
    for url in ("javascript:alert(1)", "JaVaScRiPt:alert(1)", "java\tscript:alert(1)", "data:text/html,x",
                "/relatif", "mailto:a@b.fr"):
        response = client.post(f"/redaction/numeros/{issue.id}/blocs",
                               data={"kind": "button", "placement": "top", "label": "Cliquez ici", "url": url})
        assert response.status_code == 422, url
        page = response.get_data(as_text=True)
        assert "commençant par http:// ou https://" in page and 'value="Cliquez ici"' in page
    db.expire_all()
    assert db.get(Issue, issue.id).blocks == []


def test_a_text_block_with_hostile_html_is_shown_sanitised(client, db, world, issue):
    login(client, "redaction@reaap.test", "mdp-redaction")
    hostile = ('<script>alert(1)</script><iframe src="https://evil.test"></iframe>[clic](javascript:alert(3)) '
               '<a href="javascript:alert(4)">x</a> <b onmouseover=alert(5)>gras</b> Bonjour')
    response = client.post(f"/redaction/numeros/{issue.id}/blocs",
                           data={"kind": "text", "placement": "top", "title": "<em>Titre</em>", "body_md": hostile})
    assert response.status_code == 302
    for path in ("apercu/email", "apercu/web"):
        html = client.get(f"/redaction/numeros/{issue.id}/{path}").get_data(as_text=True)
        assert "Bonjour" in html and "&lt;em&gt;Titre" in html  # the title is text, never markup
        assert_harmless(html)
        assert not lxml.html.document_fromstring(html).xpath("//b | //em[.='Titre']"), path


def test_a_banner_needs_an_image_and_an_alt_text(client, db, world, issue):
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = client.post(f"/redaction/numeros/{issue.id}/blocs", content_type="multipart/form-data",
                           data={"kind": "banner", "placement": "top", "alt_text": "",
                                 "image": (io.BytesIO(png()), "b.png")})
    assert response.status_code == 422 and "texte alternatif" in response.get_data(as_text=True)
    response = client.post(f"/redaction/numeros/{issue.id}/blocs", content_type="multipart/form-data",
                           data={"kind": "banner", "placement": "top", "alt_text": "Une image",
                                 "image": (io.BytesIO(b"GIF89a pas vraiment"), "b.gif")})
    assert response.status_code == 422 and "JPEG, PNG ou WebP" in response.get_data(as_text=True)
    db.expire_all()
    assert db.get(Issue, issue.id).blocks == []


def test_blocks_move_and_are_edited_and_removed(client, db, world, issue):
    login(client, "redaction@reaap.test", "mdp-redaction")
    for n in (1, 2):
        client.post(f"/redaction/numeros/{issue.id}/blocs",
                    data={"kind": "text", "placement": "bottom", "body_md": f"Bloc {n}"})
    db.expire_all()
    first, second = db.get(Issue, issue.id).blocks
    assert client.post(f"/redaction/numeros/{issue.id}/blocs/{second.id}/monter").status_code == 302
    db.expire_all()
    assert [b.body_md for b in db.get(Issue, issue.id).blocks] == ["Bloc 2", "Bloc 1"]
    block_page = client.get(f"/redaction/numeros/{issue.id}/blocs/{first.id}")
    assert block_page.status_code == 200 and len(lxml.html.fromstring(block_page.get_data()).xpath("//h1")) == 1
    response = client.post(f"/redaction/numeros/{issue.id}/blocs/{first.id}",
                           data={"kind": "text", "placement": "clas", "title": "", "body_md": "Bloc 1 revu"})
    assert response.status_code == 302
    db.expire_all()
    edited = db.get(IssueBlock, first.id)
    assert (edited.placement, edited.body_md) == ("clas", "Bloc 1 revu")
    text = client.get(f"/redaction/numeros/{issue.id}/apercu/texte").get_data(as_text=True)
    assert text.index("Soutien scolaire") < text.index("Bloc 1 revu")  # at the end of the CLAS rubrique
    assert client.post(f"/redaction/numeros/{issue.id}/blocs/{second.id}/retirer").status_code == 302
    db.expire_all()
    assert [b.id for b in db.get(Issue, issue.id).blocks] == [first.id]
    actions = [e.action for e in db.scalars(select(JournalEntry).where(JournalEntry.action.startswith("letter.block"))
                                            .order_by(JournalEntry.id))]
    assert actions == ["letter.block_added", "letter.block_added", "letter.block_moved", "letter.block_edited",
                       "letter.block_removed"]


def test_only_one_featured_contribution_and_only_an_accepted_one(client, db, world, issue):
    login(client, "redaction@reaap.test", "mdp-redaction")
    waiting = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=ContributionKind.actualite, title="Pas relue"))
    db.commit()
    response = client.post(f"/redaction/numeros/{issue.id}/blocs",
                           data={"kind": "featured", "contribution_id": str(waiting.id)})
    assert response.status_code == 422 and "contribution acceptée" in response.get_data(as_text=True)
    featured = issue.items[0].contribution_id
    assert client.post(f"/redaction/numeros/{issue.id}/blocs",
                       data={"kind": "featured", "contribution_id": str(featured)}).status_code == 302
    response = client.post(f"/redaction/numeros/{issue.id}/blocs",
                           data={"kind": "featured", "contribution_id": str(featured)})
    assert response.status_code == 422 and "déjà un article à la une" in response.get_data(as_text=True)


def test_readers_of_the_settings_see_the_back_offices_values(client, db, world, admin):
    from newsletter import calendar
    login(client, "admin@reaap.test", "mdp-administration")
    assert save_settings(client).status_code == 302
    assert "dpo@reaap-val.test" in client.get("/confidentialite").get_data(as_text=True)
    planned = calendar.generate_year(db, 2031)
    assert len(planned) == 4  # ISSUES_PER_YEAR's default is 3
