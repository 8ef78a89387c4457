"""Images and PDFs from partners: checked by content, re-encoded without metadata, resized, stored
with the contribution in one transaction, and served only to those who may see them."""
from __future__ import annotations

import io
import struct
import zlib
from datetime import date

import pytest
from PIL import ExifTags, Image
from sqlalchemy import func, select

from contributions import services, uploads
from contributions.models import Contribution, ContributionFile, ContributionKind
from contributions.models import ContributionStatus as S
from newsletter import issues, mailout
from tests.conftest import login

GPS = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: (48.0, 54.0, 36.0),
       ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: (2.0, 26.0, 24.0)}


def image_bytes(fmt="JPEG", size=(2400, 1600), mode="RGB", color=(200, 30, 90), exif=True, **save) -> bytes:
    image = Image.new(mode, size, color)
    out = io.BytesIO()
    if exif:
        data = Image.Exif()
        data[ExifTags.Base.Make] = "Appareil espion"
        data[ExifTags.Base.Artist] = "Amina Benali"
        data[ExifTags.Base.GPSInfo] = GPS
        save["exif"] = data.tobytes()
    image.save(out, fmt, **save)
    return out.getvalue()


def pdf_bytes(extra: int = 0) -> bytes:
    return b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n" + b"%" * extra + b"\n%%EOF\n"


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that announces huge dimensions but carries almost no data: a decompression bomb's shape."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


# --- Checking and re-encoding ---------------------------------------------------------------------

def test_gps_and_every_exif_field_are_gone_and_copies_are_resized():
    raw = image_bytes()
    assert Image.open(io.BytesIO(raw)).getexif().get_ifd(ExifTags.Base.GPSInfo), "the input must carry GPS"
    processed = uploads.process_image(raw, "photo de la sortie.JPG", "Des enfants au parc")
    web = Image.open(io.BytesIO(processed.data))
    assert web.format == "JPEG" and processed.content_type == "image/jpeg"
    assert dict(web.getexif()) == {} and not web.getexif().get_ifd(ExifTags.Base.GPSInfo)
    assert b"Exif" not in processed.data and b"Appareil espion" not in processed.data
    assert "exif" not in web.info and "icc_profile" not in web.info
    assert max(web.size) == 1200 and (processed.width, processed.height) == web.size == (1200, 800)
    email = Image.open(io.BytesIO(processed.email_data))
    assert email.size == (600, 400) and email.format == "JPEG" and b"Exif" not in processed.email_data
    assert processed.filename == "photo-de-la-sortie.jpg" and processed.alt_text == "Des enfants au parc"


def test_camera_orientation_is_applied_before_the_metadata_is_dropped():
    image = Image.new("RGB", (300, 100), "blue")
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # the camera was turned: show it rotated
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif.tobytes())
    processed = uploads.process_image(out.getvalue(), "x.jpg", "Portrait")
    assert (processed.width, processed.height) == (100, 300)


def test_png_keeps_transparency_and_loses_its_text_chunks():
    from PIL.PngImagePlugin import PngInfo
    info = PngInfo()
    info.add_text("Comment", "adresse du domicile : 3 rue des Lilas")
    raw = image_bytes("PNG", size=(800, 400), mode="RGBA", color=(0, 0, 0, 0), exif=False, pnginfo=info)
    processed = uploads.process_image(raw, "logo.png", "Logo du centre social")
    assert b"rue des Lilas" not in processed.data and b"tEXt" not in processed.data
    web = Image.open(io.BytesIO(processed.data))
    assert web.format == "PNG" and web.mode == "RGBA" and web.size == (800, 400)
    email = Image.open(io.BytesIO(processed.email_data))
    assert email.format == "PNG" and email.size == (600, 300)
    assert uploads.sniff_image_type(processed.email_data) == "image/png"


def test_webp_is_accepted_and_the_email_copy_is_jpeg():
    processed = uploads.process_image(image_bytes("WEBP", size=(500, 300)), "a.webp", "Affiche")
    assert processed.content_type == "image/webp" and Image.open(io.BytesIO(processed.data)).format == "WEBP"
    assert Image.open(io.BytesIO(processed.email_data)).format == "JPEG"
    assert (processed.width, processed.height) == (500, 300)  # never enlarged


@pytest.mark.parametrize("raw, name, message", [
    (b"<html><script>alert(1)</script></html>", "photo.jpg", "ni une image JPEG, PNG ou WebP, ni un PDF"),
    (b"MZ\x90\x00" + b"\x00" * 200, "rapport.pdf", "ni une image JPEG, PNG ou WebP, ni un PDF"),
    (image_bytes("GIF", size=(20, 20), mode="P", exif=False), "anim.png", "format GIF ne sont pas acceptées"),
    (image_bytes("BMP", size=(20, 20), exif=False), "image.jpg", "format BMP ne sont pas acceptées"),
    (image_bytes("JPEG", size=(400, 300), exif=False)[:-400], "coupee.jpg", "endommagée ou incomplète"),
    (image_bytes("PNG", size=(400, 300), exif=False)[:-30], "coupee.png", "endommagée ou incomplète"),
    (b"", "vide.png", "vide"),
    (b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024), "lourde.png", "limite est de 5 Mo"),
    (png_header_only(50_000, 50_000), "bombe.png", "trop grand"),
    (png_header_only(200_000, 200_000), "bombe2.png", "trop grand"),
    (pdf_bytes(10 * 1024 * 1024), "gros.pdf", "limite est de 10 Mo"),
])
def test_refusals_say_why_in_french(raw, name, message):
    with pytest.raises(uploads.UploadError, match=message):
        uploads.process_upload(raw, name, "Une description", "Un titre")


def test_the_content_decides_not_the_name():
    processed = uploads.process_upload(image_bytes("PNG", size=(50, 50), exif=False), "programme.pdf", "Un carré")
    assert processed.kind == "image" and processed.filename == "programme.png"
    pdf = uploads.process_upload(pdf_bytes(), "../../etc/passwd.png", None, " Programme ")
    assert pdf.kind == "pdf" and pdf.filename == "passwd.pdf" and pdf.title == "Programme"
    assert pdf.data == pdf_bytes()  # a PDF is stored as sent


def test_an_image_needs_its_alt_text():
    with pytest.raises(uploads.UploadError) as caught:
        uploads.process_upload(image_bytes("PNG", size=(50, 50), exif=False), "a.png", "   ")
    assert caught.value.field == "upload_alt" and "texte alternatif" in str(caught.value)


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
    with pytest.raises(Exception):
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
