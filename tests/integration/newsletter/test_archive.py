"""The archive of sent letters: each letter's PDF (made at send by the worker, served, exported),
the French search over the letters' articles (PostgreSQL and SQLite alike, hostile queries), and
HTTP caching of the frozen pages (ETag, Last-Modified, Cache-Control, 304)."""
from __future__ import annotations

import http.server
import io
import threading
from datetime import date, timedelta

import pypdf
import pytest
from PIL import Image
from sqlalchemy import func, select

from contributions import services as contributions
from contributions.models import Contribution, ContributionKind, FicheAction
from contributions.models import ContributionStatus as S
from contributions.uploads import process_image
from core.db import SessionFactory, utcnow
from newsletter import archive, archive_search, issues, letter_pdf, mailout
from newsletter.models import Issue, IssueStatus, LetterArticle, LetterPdf
from tests.integration.helpers import login, make_event, people, wait_for, wait_sent

ARTICLES = [
    # (title, body): words in several forms, accents, a phrase, numbers.
    ("Soirée-rencontre des parents à Bobigny", "Les parents d'élèves ont échangé sur les écrans et le sommeil."),
    ("Le CLAS du collège Jean-Jaurès recrute des bénévoles", "Accompagnement à la scolarité : aide aux devoirs."),
    ("Un jardin partagé pour les familles", "Des familles jardinent ensemble au pied des tours, avec la crèche."),
    ("Appel à projets Réaap 2027", "Les porteurs de projet déposent leur dossier avant le 15 janvier."),
    ("Ressources : la santé des tout-petits", "Une brochure sur la santé et l'alimentation des enfants."),
]
QUERIES = ["parents", "parent", "PARENTS", "écrans", "ecran", "bénévole", "benevoles", "jardins", "crèche",
           "creche", "santé", "sante", '"aide aux devoirs"', "familles -jardin", "jardin or clas", "2027",
           "soiree", "Jean-Jaurès", "-parents", "le", "xyzzy"]
HOSTILE = ["parents & enfants", "parents | enfants", "!parents", "parents:*", "(parents", "parents)", '"parents',
           '"', "OR", "or or", "parents OR", "-", "--parents", "- parents", "***", ":", "&&||!!", "\x00",
           "par\x00ents", "\x00\x00\x00", "a" * 2000, "parents " * 300, "é" * 2000, "'; DROP TABLE issues; --",
           "\\", "%", "_", "NEAR(parents enfants)", "parents*", "^parents", "{parents}", "\u202e\u200b",
           "🙂 parents", "<script>alert(1)</script>"]


def png(width=40, height=30, color=(200, 40, 90)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "PNG")
    return buffer.getvalue()


def accepted(db, world, title: str, body: str = "Du texte.", files=None):
    c = contributions.create(db, world["partner"], contributions.ContributionData(
        kind=ContributionKind.actualite, title=title, body_md=body), files=files)
    contributions.decide(db, world["editor"], c, S.accepted)
    return c


def publish(db, world, numero: int, articles=ARTICLES, *, image: bool = False, when=None) -> Issue:
    """A letter compiled and marked sent in-process (the archive's view of a sent letter)."""
    issue = issues.create_issue(db, world["editor"], numero, f"Numéro {numero}", date(2026, 3, numero % 28 + 1),
                                "Édito : bonne lecture aux **parents** et aux professionnels.")
    for n, (title, body) in enumerate(articles):
        files = [process_image(png(), "photo.png", f"Photo n°{n} de l'article")] if image and n == 0 else None
        issues.add_item(db, issue, accepted(db, world, title, body, files))
    mailout.compile_issue(db, issue)
    issue.status, issue.sent_at, issue.published_at = IssueStatus.sent, when or utcnow(), when or utcnow()
    db.commit()
    return issue


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return " ".join(page.extract_text() for page in reader.pages)


def hits(result) -> set[tuple[int, str]]:
    return {(h.numero, str(h.title).replace("<mark>", "").replace("</mark>", "")) for h in result.hits}


# --- The PDF --------------------------------------------------------------------------------------------

def test_sending_makes_the_pdf_and_indexes_the_letter_in_the_worker(client, db, world, smtp, celery_worker):
    people(db, 3)
    issue = issues.create_issue(db, world["editor"], 1, "Lettre d'automne", date(2026, 10, 1), "Édito.")
    for n, (title, body) in enumerate(ARTICLES):
        files = [process_image(png(), "photo.png", "Des parents autour d'une table")] if n == 0 else None
        issues.add_item(db, issue, accepted(db, world, title, body, files))
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    sent = client.post(f"/redaction/numeros/{issue.id}/envoyer", data={"confirm": "1", "expected": "3"})
    assert sent.status_code == 302
    wait_sent(db, issue.id)

    def made():
        db.expire_all()
        return db.get(LetterPdf, issue.id)
    pdf = wait_for(made, 90, message="the worker to make the letter's PDF")
    assert pdf.data.startswith(b"%PDF-") and pdf.size == len(pdf.data) and pdf.seconds is not None
    text = pdf_text(pdf.data)
    assert "Lettre d'automne" in text and "N°1" in text and "Jardin partagé".lower() in text.lower()
    assert "Accompagnement à la scolarité" in text  # a rubrique
    reader = pypdf.PdfReader(io.BytesIO(pdf.data))
    assert any("/XObject" in (page["/Resources"] or {}) for page in reader.pages)  # the image is in
    assert reader.pages[0].mediabox.width == pytest.approx(595.28, abs=1)  # A4

    wait_for(lambda: db.scalar(select(func.count()).select_from(LetterArticle)
                               .where(LetterArticle.issue_id == issue.id)) == len(ARTICLES) + 1,
             60, message="the worker to index the letter")
    client.post("/deconnexion")
    response = client.get("/lettres/1.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data == pdf.data and response.headers["ETag"] == f'"{pdf.sha256}"'
    assert "lettre-parentalites-1.pdf" in response.headers["Content-Disposition"]
    page = client.get("/lettres/1/").get_data(as_text=True)
    assert 'href="/lettres/1.pdf"' in page
    found = client.get("/lettres/?q=bénévole").get_data(as_text=True)
    assert "Le CLAS du collège Jean-Jaurès recrute des" in found and "/lettres/1/#article-" in found


def test_a_broken_or_remote_image_leaves_its_alt_text_and_is_never_fetched(db, world, captured_jobs):
    calls: list[str] = []

    class Recorder(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            calls.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        issue = publish(db, world, 7, ARTICLES[:2])
        port = server.server_address[1]
        issue.archive_html = issue.archive_html.replace(
            "</header>",
            f'</header><p><img src="http://127.0.0.1:{port}/secret.png" alt="Photo distante de la soirée"></p>'
            '<p><img src="https://parentalites.test/fichiers/999999" alt="Affiche disparue du CLAS"></p>'
            '<p><img src="file:///etc/passwd" alt="Un fichier local refusé"></p>'
            '<p><img src="data:image/png;base64,AAAA" alt="Image cassée en ligne"></p>', 1)
        db.commit()
        pdf = letter_pdf.make_letter_pdf(db, issue.id)
        db.commit()
    finally:
        server.shutdown()
    assert pdf is not None and pdf.data.startswith(b"%PDF-")
    text = pdf_text(pdf.data)
    for alt in ("Photo distante de la soirée", "Affiche disparue du CLAS", "Un fichier local refusé"):
        assert alt in text
    assert calls == []  # no request left the process


def test_a_letter_without_image_gets_its_pdf_on_first_request_when_its_job_never_ran(client, db, world,
                                                                                    captured_jobs):
    issue = publish(db, world, 3, ARTICLES[:1])
    assert db.get(LetterPdf, issue.id) is None
    response = client.get("/lettres/3.pdf")
    assert response.status_code == 200 and response.data.startswith(b"%PDF-")
    assert "Soirée-rencontre des parents" in pdf_text(response.data)
    db.expire_all()
    kept = db.get(LetterPdf, issue.id)
    assert kept is not None and kept.data == response.data  # made once, kept
    assert client.get("/lettres/3.pdf").data == response.data
    assert client.get("/lettres/4.pdf").status_code == 404


def test_a_pdf_that_cannot_be_made_leaves_the_letter_readable(client, db, world, captured_jobs, monkeypatch):
    publish(db, world, 5, ARTICLES[:1])

    def broken(*args, **kwargs):
        raise RuntimeError("Pango a disparu")
    monkeypatch.setattr(letter_pdf, "render_pdf", broken)
    response = client.get("/lettres/5.pdf")
    assert response.status_code == 503
    assert "Le PDF du n°5 n'a pas pu être fabriqué" in response.get_data(as_text=True)
    assert client.get("/lettres/5/").status_code == 200


def test_a_failing_pdf_job_never_undoes_the_send(db, world, captured_jobs, monkeypatch):
    """finish_if_done commits the send, then the PDF job runs on its own: its failure leaves the
    letter sent and published."""
    from tasks import archive as archive_tasks
    issue = publish(db, world, 6, ARTICLES[:1])
    issue.status, issue.published_at = IssueStatus.sending, None
    db.commit()
    assert mailout.finish_if_done(db, issue.id)
    assert [name for name, *_ in captured_jobs if name.startswith("tasks.archive.")] == [
        "tasks.archive.index_letter", "tasks.archive.make_letter_pdf"]
    monkeypatch.setattr(letter_pdf, "render_pdf", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("boom")))
    with pytest.raises(RuntimeError):
        archive_tasks.make_letter_pdf.run(issue.id)
    db.rollback()
    db.expire_all()
    sent = db.get(Issue, issue.id)
    assert sent.status is IssueStatus.sent and sent.published_at is not None
    assert db.get(LetterPdf, issue.id) is None


def test_the_static_export_holds_each_letters_pdf_and_links_it(db, world, captured_jobs, tmp_path):
    publish(db, world, 1, ARTICLES[:2], image=True)
    publish(db, world, 2, ARTICLES[2:])
    written = archive.export_static(db, tmp_path / "site")
    db.commit()
    names = {p.relative_to(tmp_path / "site").as_posix() for p in written}
    assert {"1.pdf", "2.pdf", "1/index.html", "2/index.html", "index.html"} <= names
    assert (tmp_path / "site" / "2.pdf").read_bytes().startswith(b"%PDF-")
    assert 'href="../2.pdf"' in (tmp_path / "site" / "2" / "index.html").read_text()
    assert 'href="1.pdf"' in (tmp_path / "site" / "index.html").read_text()
    assert db.scalar(select(func.count()).select_from(LetterPdf)) == 2  # kept for the site too


# --- The search ----------------------------------------------------------------------------------------

@pytest.fixture
def sqlite_db(tmp_path):
    from alembic import command

    from core.db import make_engine
    from parentalites.migrate import alembic_config
    engine = make_engine(f"sqlite:///{tmp_path / 'archive.sqlite'}")
    with engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    session = SessionFactory(bind=engine)
    yield session
    session.close()
    engine.dispose()


def copy_letters(source, target) -> None:
    """The published letters as the archive keeps them, copied to another database."""
    for issue in source.scalars(select(Issue).order_by(Issue.numero)):
        target.add(Issue(numero=issue.numero, title=issue.title, issue_date=issue.issue_date, kind=issue.kind,
                         status=issue.status, archive_html=issue.archive_html, sent_at=issue.sent_at,
                         published_at=issue.published_at))
    target.commit()


def test_postgresql_and_sqlite_find_the_same_articles(db, sqlite_db, world, captured_jobs):
    publish(db, world, 1, ARTICLES[:3])
    publish(db, world, 2, ARTICLES[2:])
    draft = issues.create_issue(db, world["editor"], 3, "Brouillon", date(2026, 12, 1))
    issues.add_item(db, draft, accepted(db, world, "Un article pas encore envoyé sur les parents"))
    mailout.compile_issue(db, draft)
    db.commit()
    copy_letters(db, sqlite_db)
    assert sqlite_db.get_bind().dialect.name == "sqlite" and db.get_bind().dialect.name == "postgresql"
    compared = 0
    for q in QUERIES:
        on_pg, on_sqlite = archive_search.search(db, q, per_page=100), archive_search.search(sqlite_db, q, per_page=100)
        assert hits(on_pg) == hits(on_sqlite), q
        assert [str(h.excerpt) for h in on_pg.hits] == [str(h.excerpt) for h in on_sqlite.hits], q
        compared += on_pg.total
    assert compared > 20
    # Stemming and accents, both ways; the draft is never found.
    for q in ("parent", "ecrans", "benevoles", "creches"):
        assert archive_search.search(db, q).total >= 1, q
    assert hits(archive_search.search(db, "jardins")) == {(1, "Un jardin partagé pour les familles"),
                                                          (2, "Un jardin partagé pour les familles")}
    assert "pas encore envoyé" not in str(archive_search.search(sqlite_db, "parents").hits)
    assert all(h.numero != 3 for h in archive_search.search(db, "parents").hits)
    # The édito is searchable too, and results come newest first.
    edito = archive_search.search(db, "professionnels")
    assert [(h.numero, str(h.title)) for h in edito.hits] == [(2, "Édito"), (1, "Édito")]
    assert "<mark>professionnels</mark>" in str(edito.hits[0].excerpt)


def test_hostile_queries_never_fail_on_either_database(client, db, sqlite_db, world, captured_jobs):
    publish(db, world, 1)
    copy_letters(db, sqlite_db)
    for q in HOSTILE:
        for session in (db, sqlite_db):
            result = archive_search.search(session, q)
            assert result.page == 1 and len(result.query) <= archive_search.MAX_QUERY_CHARS, repr(q)
            assert "\x00" not in result.query
        assert hits(archive_search.search(db, q)) == hits(archive_search.search(sqlite_db, q)), repr(q)
        db.commit()  # the search indexed the letter on its way (no job ran): let the app's session see it
        response = client.get("/lettres/", query_string={"q": q})
        assert response.status_code == 200, repr(q)
        assert "<script>alert" not in response.get_data(as_text=True)
    assert archive_search.search(db, "parents & bobigny | !ecrans").total == 1  # operators read as words
    long = client.get("/lettres/", query_string={"q": "parents " * 300}).get_data(as_text=True)
    assert "seuls ses 200 premiers caractères ont été cherchés" in long
    assert "Soirée-rencontre des <mark>parents</mark>" in long
    many = client.get("/lettres/", query_string={"q": " ".join(f"mot{n}" for n in range(30))}).get_data(as_text=True)
    assert "seuls les 12 premiers ont été cherchés" in many
    empty = client.get("/lettres/", query_string={"q": "&&||!!"}).get_data(as_text=True)
    assert "ne contient aucun mot à chercher" in empty
    page = client.get("/lettres/", query_string={"q": "parents", "page": "99999999999"})
    assert page.status_code == 200


def test_search_results_name_the_letter_and_the_article_with_a_link_to_it(client, db, world, captured_jobs):
    issue = publish(db, world, 4, ARTICLES)
    response = client.get("/lettres/?q=sante")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 article" in page and "Lettre n°4 : Numéro 4" in page
    article = issue.items[-1]
    assert f'href="/lettres/4/#article-{article.id}"' in page
    assert f'id="article-{article.id}"' in client.get("/lettres/4/").get_data(as_text=True)
    assert "la <mark>santé</mark> des tout-petits" in page
    assert "Aucun article ne correspond" in client.get("/lettres/?q=xyzzy").get_data(as_text=True)
    assert client.get("/lettres/?q=").status_code == 200


def test_letters_published_before_the_index_are_found(db, world, captured_jobs):
    issue = publish(db, world, 8, ARTICLES[:2])
    assert db.scalar(select(func.count()).select_from(LetterArticle)) == 0  # no job ran
    assert hits(archive_search.search(db, "ecrans")) == {(8, "Soirée-rencontre des parents à Bobigny")}
    db.commit()
    assert archive_search.index_letter(db, issue) == 3  # again: the same rows, not twice
    assert db.scalar(select(func.count()).select_from(LetterArticle)) == 3


# --- HTTP caching -----------------------------------------------------------------------------------------

CACHED_PAGES = ["/lettres/1/", "/lettres/1/email.html", "/lettres/1.pdf", "/lettres/feed.atom", "/actions/feed.atom",
                "/agenda.ics"]


@pytest.mark.parametrize("path", CACHED_PAGES)
def test_frozen_pages_answer_304_to_a_conditional_get(client, db, world, captured_jobs, path):
    publish(db, world, 1, ARTICLES[:2], when=utcnow() - timedelta(days=3))
    make_event(db)
    fiche = Contribution(structure_id=world["tilleuls"].id, kind=ContributionKind.fiche_action, status=S.published,
                         title="Un jardin partagé", body_md="", source="partner")
    fiche.fiche = FicheAction(summary="Des familles jardinent.")
    db.add(fiche)
    db.commit()
    first = client.get(path)
    assert first.status_code == 200 and first.data
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]
    assert first.cache_control.public and first.cache_control.max_age > 0
    assert "Set-Cookie" not in first.headers  # nothing personal: a shared cache may keep it
    again = client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == etag
    assert client.get(path, headers={"If-Modified-Since": last_modified}).status_code == 304
    assert client.get(path, headers={"If-None-Match": '"autre"'}).status_code == 200
    earlier = "Mon, 01 Jan 2001 00:00:00 GMT"
    assert client.get(path, headers={"If-Modified-Since": earlier}).status_code == 200


def test_the_letter_page_varies_with_the_language_and_is_private_when_signed_in(client, db, world, captured_jobs):
    publish(db, world, 1, ARTICLES[:1])
    french = client.get("/lettres/1/", headers={"Accept-Language": "fr"})
    english = client.get("/lettres/1/", headers={"Accept-Language": "en"})
    assert french.headers["ETag"] != english.headers["ETag"]
    assert {"Accept-Language", "Cookie"} <= set(french.vary)
    assert client.get("/lettres/1/", headers={"Accept-Language": "en", "If-None-Match": french.headers["ETag"]}
                      ).status_code == 200
    login(client, "redaction@reaap.test", "mdp-redaction")
    signed_in = client.get("/lettres/1/", headers={"If-None-Match": french.headers["ETag"]})
    assert signed_in.status_code == 200 and "Rédaction" in signed_in.get_data(as_text=True)
    assert signed_in.cache_control.private and "ETag" not in signed_in.headers
