"""Images and PDFs from partners, on the real database: stored with the contribution in one
transaction, and served only to those who may see them. Checking and re-encoding them:
tests/unit/contributions/test_uploads.py."""
from __future__ import annotations

import io
from datetime import date

import pytest
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.exc import DataError

from contributions import services, uploads
from contributions.models import Contribution, ContributionFile, ContributionKind
from contributions.models import ContributionStatus as S
from newsletter import issues, mailout
from tests.integration.helpers import login
from tests.support.images import image_bytes, pdf_bytes

# --- Through the partner form, and served back ---------------------------------------------------

def _post(client, path, data, files=None):
    payload = dict(data)
    for key, (raw, name, mimetype) in (files or {}).items():
        payload[key] = (io.BytesIO(raw), name, mimetype)
    return client.post(path, data=payload, content_type="multipart/form-data")


def test_partner_attaches_an_image_and_a_pdf_and_they_are_served_safely(client, world, db, captured_jobs):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    response = _post(client, "/partenaires/nouvelle/actualite", {
        "title": "Notre nouveau local", "body_md": "Venez le **visiter**.", "action": "draft",
        "upload_alt": "La façade du centre social"},
        {"upload": (image_bytes(), "IMG_0042.jpg", "application/octet-stream")})
    assert response.status_code == 302, response.get_data(as_text=True)
    contribution = db.scalar(select(Contribution))
    assert contribution.status is S.draft
    [image] = contribution.files
    assert image.kind == "image" and image.alt_text == "La façade du centre social" and image.size == len(image.data)

    edit = f"/partenaires/contributions/{contribution.id}/modifier"
    response = _post(client, edit, {"title": "Notre nouveau local", "body_md": "Venez le **visiter**.",
                                    "action": "submit", "upload_title": "Le programme"},
                     {"upload": (pdf_bytes(), "programme.pdf", "image/png")})
    assert response.status_code == 302
    db.expire_all()
    contribution = db.get(Contribution, contribution.id)
    assert contribution.status is S.submitted and [f.kind for f in contribution.files] == ["image", "pdf"]
    pdf = contribution.files[1]

    page = client.get(f"/partenaires/contributions/{contribution.id}").get_data(as_text=True)
    assert f'src="/fichiers/{image.id}"' in page and 'alt="La façade du centre social"' in page
    assert f'href="/fichiers/{pdf.id}"' in page and "Le programme" in page

    served = client.get(f"/fichiers/{image.id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["X-Content-Type-Options"] == "nosniff"
    assert served.headers["Content-Disposition"].startswith("inline")
    assert served.data == image.data
    email = client.get(f"/fichiers/{image.id}/email")
    assert email.mimetype == "image/jpeg" and Image.open(io.BytesIO(email.data)).width == 600
    served_pdf = client.get(f"/fichiers/{pdf.id}")
    assert served_pdf.mimetype == "application/pdf"
    assert served_pdf.headers["Content-Disposition"] == 'attachment; filename="programme.pdf"'
    assert served_pdf.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get(f"/fichiers/{pdf.id}/email").status_code == 404

    # Not yet accepted: the owner and the editors only.
    client.post("/deconnexion")
    assert client.get(f"/fichiers/{image.id}").status_code == 404
    login(client, "julien@asso.test", "mdp-autre")
    assert client.get(f"/fichiers/{image.id}").status_code == 404
    client.post("/deconnexion")
    login(client, "redaction@reaap.test", "mdp-redaction")
    review = client.get(f"/redaction/moderation/{contribution.id}").get_data(as_text=True)
    assert f'src="/fichiers/{image.id}"' in review and "Le programme" in review
    assert client.get(f"/fichiers/{image.id}").status_code == 200
    services.decide(db, world["editor"], contribution, S.accepted)
    db.commit()
    client.post("/deconnexion")
    public = client.get(f"/fichiers/{image.id}")
    assert public.status_code == 200 and "public" in public.headers["Cache-Control"]

    # In the letter: the e-mail copy by absolute URL, with its alt text; the PDF as a link.
    issue = issues.create_issue(db, world["editor"], 1, "Rentrée", date(2026, 9, 15))
    issues.add_item(db, issue, contribution)
    rendered = mailout.render_letter(issue)
    assert f'src="https://parentalites.test/fichiers/{image.id}/email"' in rendered.html
    assert 'alt="La façade du centre social"' in rendered.html
    assert f'href="https://parentalites.test/fichiers/{pdf.id}"' in rendered.html
    assert "[Image : La façade du centre social]" in rendered.text
    assert f"Le programme (PDF) : https://parentalites.test/fichiers/{pdf.id}" in rendered.text
    web = mailout.render_web_version(issue)
    assert f'src="https://parentalites.test/fichiers/{image.id}"' in web


def test_a_refused_upload_keeps_what_was_typed_and_saves_nothing(client, world, db):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    response = _post(client, "/partenaires/nouvelle/evenement", {
        "title": "Soirée jeux", "body_md": "Un texte que je ne veux pas retaper",
        "event_start": "2026-12-10T18:00", "place": "Salle des fêtes", "audience": "Familles",
        "action": "submit", "upload_alt": "Affiche"},
        {"upload": (b"GIF89a" + b"\0" * 100, "affiche.jpg", "image/jpeg")})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Un texte que je ne veux pas retaper" in page and "Salle des fêtes" in page
    assert 'value="2026-12-10T18:00"' in page and "Familles" in page
    assert "ni une image JPEG, PNG ou WebP" in page and 'id="error-summary"' in page
    assert db.scalar(select(func.count(Contribution.id))) == 0
    assert db.scalar(select(func.count(ContributionFile.id))) == 0

    missing_alt = _post(client, "/partenaires/nouvelle/actualite", {
        "title": "Titre gardé", "body_md": "Texte gardé", "action": "submit"},
        {"upload": (image_bytes("PNG", size=(40, 40), exif=False), "a.png", "image/png")})
    assert missing_alt.status_code == 422
    page = missing_alt.get_data(as_text=True)
    assert "texte alternatif" in page and "Titre gardé" in page and "Texte gardé" in page
    assert db.scalar(select(func.count(Contribution.id))) == 0


def test_contribution_and_files_are_saved_together_or_not_at_all(world, db):
    good = uploads.process_image(image_bytes("PNG", size=(40, 40), exif=False), "a.png", "Un carré")
    bad = uploads.process_pdf(pdf_bytes(), "doc.pdf")
    bad.filename = "x" * 300 + ".pdf"  # longer than the column: the database refuses the row
    with pytest.raises(DataError):
        services.create(db, world["partner"], services.ContributionData(
            kind=ContributionKind.actualite, title="Avec fichiers", body_md="Texte"), files=[good, bad])
    assert db.scalar(select(func.count(Contribution.id))) == 0
    assert db.scalar(select(func.count(ContributionFile.id))) == 0
    contribution = services.create(db, world["partner"], services.ContributionData(
        kind=ContributionKind.actualite, title="Avec fichiers", body_md="Texte"), files=[good])
    assert [f.alt_text for f in contribution.files] == ["Un carré"]


def test_removing_a_file_while_editing(client, world, db):
    image = uploads.process_image(image_bytes("PNG", size=(40, 40), exif=False), "a.png", "Un carré")
    contribution = services.create(db, world["partner"], services.ContributionData(
        kind=ContributionKind.actualite, title="Titre", body_md="Texte"), files=[image], submit=False)
    db.commit()
    file_id = contribution.files[0].id
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    form = client.get(f"/partenaires/contributions/{contribution.id}/modifier").get_data(as_text=True)
    assert f'name="remove_file" value="{file_id}"' in form
    response = client.post(f"/partenaires/contributions/{contribution.id}/modifier", data={
        "title": "Titre", "body_md": "Texte", "action": "draft", "remove_file": str(file_id)})
    assert response.status_code == 302
    assert db.scalar(select(func.count(ContributionFile.id))) == 0


def test_a_request_beyond_the_server_limit_gets_a_french_answer(client, world, db):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    response = _post(client, "/partenaires/nouvelle/actualite", {"title": "Trop lourd", "action": "submit"},
                     {"upload": (b"%PDF-" + b"0" * (17 * 1024 * 1024), "enorme.pdf", "application/pdf")})
    assert response.status_code == 413
    page = response.get_data(as_text=True)
    assert "Fichier trop lourd" in page and "10 Mo" in page
    assert db.scalar(select(func.count(Contribution.id))) == 0


# --- Preview, errors and thumbnails keep the chosen file (issue 13, item 28) -----------------------

def _pending_token(page: str) -> str:
    import re
    match = re.search(r'name="pending_upload" value="([^"]+)"', page)
    assert match, "no pending upload in the form"
    return match[1]


def test_the_preview_shows_the_whole_contribution_and_keeps_the_chosen_image(client, world, db):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    response = _post(client, "/partenaires/nouvelle/evenement", {
        "title": "Soirée jeux en famille", "body_md": "Venez **jouer**.", "event_start": "2026-03-03T18:00",
        "event_end": "2026-03-03T20:00", "place": "Salle des fêtes", "audience": "Familles",
        "upload_alt": "Affiche de la soirée", "action": "preview"},
        {"upload": (image_bytes("PNG", size=(80, 60), exif=False), "affiche.png", "image/png")})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    preview = page.split('id="apercu-titre"', 1)[1].split("</section>", 1)[0]
    for text in ("Soirée jeux en famille", "mardi 3 mars 2026, de 18 h à 20 h", "Salle des fêtes", "Familles",
                 "<strong>jouer</strong>", 'alt="Affiche de la soirée"'):
        assert text in preview, text
    assert "un fichier choisi doit l" not in page  # the file is kept, not lost
    token = _pending_token(page)
    # The preview's image is served re-encoded, to its owner only.
    src = preview.split('<img src="', 1)[1].split('"', 1)[0]
    image = client.get(src)
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert Image.open(io.BytesIO(image.data)).size == (80, 60)
    # Sent without choosing the file again: it is saved with the contribution.
    response = _post(client, "/partenaires/nouvelle/evenement", {
        "title": "Soirée jeux en famille", "body_md": "Venez **jouer**.", "event_start": "2026-03-03T18:00",
        "event_end": "2026-03-03T20:00", "place": "Salle des fêtes", "audience": "Familles",
        "upload_alt": "Affiche de la soirée", "action": "submit", "pending_upload": token})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    [saved] = db.scalar(select(Contribution)).files
    assert saved.kind == "image" and saved.alt_text == "Affiche de la soirée"
    assert client.get(src).status_code == 404  # used once
    # Another account cannot use someone else's pending file.
    other = client.application.test_client()
    login(other, "julien@asso.test", "mdp-autre")
    assert other.get(src).status_code == 404


def test_a_form_error_keeps_the_file_and_says_where_the_error_is(client, world, db):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    response = _post(client, "/partenaires/nouvelle/actualite", {
        "title": "", "body_md": "Texte", "upload_alt": "Un carré bleu", "action": "submit"},
        {"upload": (image_bytes("PNG", size=(40, 40), exif=False), "carre.png", "image/png")})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "ci-dessus" not in page and "carre.png" in page
    token = _pending_token(page)
    response = _post(client, "/partenaires/nouvelle/actualite", {
        "title": "Un titre", "body_md": "Texte", "upload_alt": "Un carré bleu", "action": "draft",
        "pending_upload": token})
    assert response.status_code == 302
    assert [f.alt_text for f in db.scalar(select(Contribution)).files] == ["Un carré bleu"]


def test_a_missing_description_keeps_the_image_until_it_is_given(client, world, db):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    response = _post(client, "/partenaires/nouvelle/actualite", {
        "title": "Titre", "body_md": "Texte", "action": "submit"},
        {"upload": (image_bytes("PNG", size=(40, 40), exif=False), "carre.png", "image/png")})
    assert response.status_code == 422
    token = _pending_token(response.get_data(as_text=True))
    response = _post(client, "/partenaires/nouvelle/actualite", {
        "title": "Titre", "body_md": "Texte", "action": "submit", "upload_alt": "Un carré", "pending_upload": token})
    assert response.status_code == 302


def test_editing_shows_a_thumbnail_of_each_image(client, world, db):
    image = uploads.process_image(image_bytes("PNG", size=(40, 40), exif=False), "a.png", "Un carré")
    contribution = services.create(db, world["partner"], services.ContributionData(
        kind=ContributionKind.actualite, title="Titre", body_md="Texte"), files=[image], submit=False)
    db.commit()
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    form = client.get(f"/partenaires/contributions/{contribution.id}/modifier").get_data(as_text=True)
    file_id = contribution.files[0].id
    assert f'<img src="/fichiers/{file_id}"' in form
    assert client.get(f"/fichiers/{file_id}").status_code == 200
