"""Fiche action import in the browser (/redaction/fiches/import, issue 11 item 7): upload → preview
(the importer's own dry run: counts, refused records and why, nothing kept) → confirm → result."""
from __future__ import annotations

import html
import io
import re

from sqlalchemy import func, select

from accounts.models import JournalEntry
from contributions.models import Contribution, ContributionKind
from tests.conftest import FIXTURES
from tests.integration.helpers import login

SAMPLE_CSV = FIXTURES / "actions_sample.csv"


def fiche_count(db) -> int:
    db.expire_all()
    return db.scalar(select(func.count()).select_from(Contribution)
                     .where(Contribution.kind == ContributionKind.fiche_action)) or 0


def upload(client, content: bytes, name: str):
    return client.post("/redaction/fiches/import/", data={"file": (io.BytesIO(content), name)},
                       content_type="multipart/form-data")


def text(response) -> str:
    return html.unescape(response.get_data(as_text=True))


def test_upload_preview_confirm_result(client, db, world):
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = upload(client, SAMPLE_CSV.read_bytes(), "actions.csv")
    assert response.status_code == 302
    preview_url = response.headers["Location"]
    page = text(client.get(preview_url))
    # What the command line reports: the counts and each refused record with its reason.
    assert re.search(r"<strong>2</strong>\s*nouvelles fiches", page)
    assert re.search(r"<strong>3</strong>\s*fiches refusées", page)
    assert "pas de titre" in page and "année « deux mille » invalide" in page
    assert fiche_count(db) == 0  # a dry run: nothing kept

    token = preview_url.rstrip("/").split("/")[-1]
    done = client.post(f"/redaction/fiches/import/{token}/confirmer")
    assert done.status_code == 302 and done.headers["Location"].endswith("/resultat")
    assert fiche_count(db) == 2
    result = text(client.get(done.headers["Location"]))
    assert "Import de actions.csv terminé" in result and re.search(r"<strong>2</strong>\s*nouvelles fiches", result)
    # A second click imports nothing more.
    again = client.post(f"/redaction/fiches/import/{token}/confirmer")
    assert again.status_code == 302 and fiche_count(db) == 2
    [entry] = db.scalars(select(JournalEntry).where(JournalEntry.action == "fiches.imported")).all()
    assert entry.actor_email == "redaction@reaap.test" and entry.details["imported"] == 2
    # The fiches' history names the file.
    gouter = db.scalar(select(Contribution).where(Contribution.title == "Goûters-débats à la crèche"))
    assert "actions.csv" in gouter.transitions[0].comment

    # The same file again: the preview says « unchanged », not new.
    page = text(client.get(upload(client, SAMPLE_CSV.read_bytes(), "actions.csv").headers["Location"]))
    assert re.search(r"<strong>2</strong>\s*fiches inchangées", page)


def test_abandon_keeps_nothing(client, db, world):
    login(client, "redaction@reaap.test", "mdp-redaction")
    token = upload(client, SAMPLE_CSV.read_bytes(), "actions.csv").headers["Location"].rstrip("/").split("/")[-1]
    assert client.post(f"/redaction/fiches/import/{token}/abandonner").status_code == 302
    assert client.get(f"/redaction/fiches/import/{token}").status_code == 404
    assert client.post(f"/redaction/fiches/import/{token}/confirmer").status_code == 404
    assert fiche_count(db) == 0


def test_bad_files_are_refused_in_french(client, db, world):
    login(client, "redaction@reaap.test", "mdp-redaction")
    response = upload(client, b"\x89PNG\r\n", "photo.png")
    assert response.status_code == 422 and "export texte (.txt) ou un CSV" in text(response)
    response = upload(client, b"nom_de_famille;ville\nDupont;Lyon\n", "gens.csv")
    assert response.status_code == 422 and "Ce fichier ne peut pas être importé" in text(response)
    response = client.post("/redaction/fiches/import/", data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and "Choisissez un fichier" in text(response)
    assert client.get("/redaction/fiches/import/../../etc").status_code == 404
    assert fiche_count(db) == 0


def test_partners_cannot_import(client, db, world):
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    assert client.get("/redaction/fiches/import/").status_code == 403
    assert upload(client, SAMPLE_CSV.read_bytes(), "actions.csv").status_code == 403
    assert fiche_count(db) == 0
