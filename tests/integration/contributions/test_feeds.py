"""Feed ingestion (contributions/feeds.py): feeds served by a real HTTP server in a thread, read
with the real HTTP client, stored in the real PostgreSQL database; the Celery test runs the real
worker. Our own fixtures are in tests/fixtures/feeds/; the upstream corpora in
../shared/corpora/feeds/ run when they are there."""
from __future__ import annotations

import ast
import csv
import html
import re
import threading
import time
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import nh3
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from tests.conftest import FIXTURES as TEST_FIXTURES
from tests.conftest import SHARED, shared_path
from tests.integration.helpers import login, run_concurrently, wait_for

FIXTURES = TEST_FIXTURES / "feeds"
CORPUS = SHARED / "corpora" / "feeds"


# --- A real HTTP server serving feeds, with ETag / Last-Modified ------------------------------------

@dataclass
class Route:
    body: bytes = b""
    content_type: str | None = "application/rss+xml; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    status: int = 200
    delay: float = 0.0


@dataclass
class FeedServer:
    routes: dict[str, Route] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    port: int = 0

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def serve(self, path: str, body: bytes | str | Path, **options) -> str:
        if isinstance(body, Path):
            body = body.read_bytes()
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self.routes[path] = Route(body=body, **options)
        return self.url(path)

    def hits(self, path: str) -> list[dict[str, str]]:
        return [headers for p, headers in self.requests if p == path]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        feeds: FeedServer = self.server.feeds
        feeds.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
        route = feeds.routes.get(self.path)
        if route is None:
            return self._reply(404)
        if route.delay:
            time.sleep(route.delay)
        if route.status != 200:
            return self._reply(route.status)
        if route.etag and self.headers.get("If-None-Match") == route.etag:
            return self._reply(304)
        if route.last_modified and self.headers.get("If-Modified-Since") == route.last_modified:
            return self._reply(304)
        self.send_response(200)
        if route.content_type:
            self.send_header("Content-Type", route.content_type)
        if route.etag:
            self.send_header("ETag", route.etag)
        if route.last_modified:
            self.send_header("Last-Modified", route.last_modified)
        self.send_header("Content-Length", str(len(route.body)))
        self.end_headers()
        self.wfile.write(route.body)

    def _reply(self, status: int):
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def feed_server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    feeds = FeedServer(port=httpd.server_address[1])
    httpd.feeds = feeds
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield feeds
    httpd.shutdown()
    httpd.server_close()


def make_structure(db, feed_url: str | None, name: str = "Centre social Les Tilleuls"):
    from contributions.models import Structure, StructureKind
    structure = Structure(name=name, kind=StructureKind.centre_social, commune="Bobigny", feed_url=feed_url)
    db.add(structure)
    db.commit()
    return structure


def contributions_of(db, structure_id: int):
    from contributions.models import Contribution
    db.expire_all()
    return list(db.scalars(select(Contribution).where(Contribution.structure_id == structure_id)
                           .order_by(Contribution.id)))


def fresh(db, structure):
    db.expire_all()
    return db.get(type(structure), structure.id)


# --- What "sanitized" means, checked on the HTML every output path shows ---------------------------

class _Audit(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, attrs))

    handle_startendtag = handle_starttag


def assert_safe_html(rendered: str) -> None:
    from core.text import ALLOWED_TAGS
    audit = _Audit()
    audit.feed(rendered)
    for tag, attrs in audit.elements:
        assert tag in ALLOWED_TAGS, (tag, rendered)
        for name, value in attrs:
            assert not name.startswith("on"), (tag, name, rendered)
            assert name in {"href", "title", "rel", "align"}, (tag, name, rendered)
            if name == "href":
                assert urlsplit(value or "").scheme in ("http", "https", "mailto"), (value, rendered)
    assert "<script" not in rendered.lower()
    assert not re.search(r"<[^>]*\son\w+\s*=", rendered, re.I), rendered
    # A javascript: URL in any attribute (a path such as https://site/javascript:… is only a path).
    assert not re.search(r"<[^>]*=\s*[\"']?\s*(javascript|vbscript|data):", rendered, re.I), rendered


def assert_clean_contribution(contribution) -> None:
    from core.text import render_markdown
    assert_safe_html(str(render_markdown(contribution.body_md)))
    assert contribution.title and len(contribution.title) <= 300
    assert not re.search(r"<\s*/?\s*[a-zA-Z!?]", contribution.title), contribution.title
    assert contribution.link is None or urlsplit(contribution.link).scheme in ("http", "https"), contribution.link


def visible_text(fragment: str) -> str:
    return " ".join(html.unescape(nh3.clean(fragment, tags=set())).split())


# --- Our own fixtures -------------------------------------------------------------------------------

def test_rss_entries_become_submitted_contributions(db, feed_server):
    from contributions import feeds, services
    from contributions.models import ContributionKind, ContributionStatus
    from core.text import render_markdown
    url = feed_server.serve("/rss.xml", FIXTURES / "rss2.xml")
    structure = make_structure(db, url)

    result = feeds.poll_structure(db, structure.id)

    assert (result.status, result.created, result.duplicates) == ("ok", 3, 0)
    items = contributions_of(db, structure.id)
    assert [c.title for c in items] == [  # oldest first: the queue shows what waits longest first
        "Accompagnement à la scolarité : il reste des places",
        "Sortie familles au bord de la Marne",
        "Café des parents : « Les écrans à la maison »"]
    for c in items:
        assert c.status is ContributionStatus.submitted and c.kind is ContributionKind.actualite
        assert c.source == "feed" and c.author_id is None and c.submitted_at is not None
        [transition] = c.transitions
        assert transition.actor_id is None and transition.to_status == "submitted"
        assert transition.comment.startswith("Importée du flux « Centre social Les Tilleuls — actualités »")
        assert_clean_contribution(c)
    cafe = items[2]
    assert cafe.feed_entry_id == "tilleuls-2025-0042"
    assert cafe.link == "https://tilleuls.example.org/actualites/cafe-des-parents-ecrans"
    # content:encoded (the richest body) wins over the description; structure and links survive.
    assert "**entre parents**" in cafe.body_md and "[CAF](https://www.caf.fr/)" in cafe.body_md
    rendered = str(render_markdown(cafe.body_md))
    assert "<li>Jeudi 13 mars, 9 h 30</li>" in rendered and '<a href="https://www.caf.fr/"' in rendered
    assert "4 mars 2025" in cafe.transitions[0].comment  # pubDate, in Paris time
    assert "*apportez vos paniers*" in items[1].body_md  # escaped HTML in <description> is HTML
    assert "publiée" not in items[0].transitions[0].comment  # no date, none invented
    # The editor's queue shows them, waiting longest first.
    assert [c.id for c in services.moderation_queue(db)] == [c.id for c in items]
    structure = fresh(db, structure)
    assert structure.feed_ok_at is not None and structure.feed_failures == 0
    assert structure.feed_warning is None and structure.feed_error is None


def test_atom_feed_relative_links_and_html_title(db, feed_server):
    from contributions import feeds
    url = feed_server.serve("/feed.atom", FIXTURES / "atom.xml", content_type="application/atom+xml")
    structure = make_structure(db, url)
    assert feeds.poll_structure(db, structure.id).created == 2
    permanence, groupe = contributions_of(db, structure.id)
    assert groupe.title == "Groupe de parole adolescence"  # type="html": tags stripped
    # Relative links are resolved against the feed's address, never kept relative.
    assert groupe.link == feed_server.url("/actualites/groupe-de-parole")
    assert f"[l'agenda]({feed_server.url('/agenda')})" in groupe.body_md
    assert "9 mars 2025" in groupe.transitions[0].comment
    # The alternate link, not the enclosure; a text summary stays literal (« 1. » is no list).
    assert permanence.link == "https://parents-ensemble.example.org/actualites/permanence"
    assert permanence.body_md == "Le mercredi matin, sans rendez-vous. 1. Accueil 2. Écoute"
    assert permanence.feed_entry_id == "urn:uuid:9f1c3e44-0b7e-4d8a-8e2f-7a6b1b9d2a02"


def test_conditional_get_etag_and_last_modified(db, feed_server):
    from contributions import feeds
    lm = "Tue, 04 Mar 2025 09:30:00 GMT"
    url = feed_server.serve("/rss.xml", FIXTURES / "rss2.xml", etag='"v1"', last_modified=lm)
    structure = make_structure(db, url)
    assert feeds.poll_structure(db, structure.id).created == 3
    structure = fresh(db, structure)
    assert (structure.feed_etag, structure.feed_modified) == ('"v1"', lm)
    first_ok = structure.feed_ok_at
    assert "if-none-match" not in feed_server.hits("/rss.xml")[0]

    result = feeds.poll_structure(db, structure.id)

    assert result.status == "not_modified" and result.created == 0
    sent = feed_server.hits("/rss.xml")[1]
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == lm
    structure = fresh(db, structure)
    assert structure.feed_ok_at >= first_ok and structure.feed_failures == 0
    # Only Last-Modified (no ETag): still a 304.
    feed_server.routes["/rss.xml"].etag = None
    structure.feed_etag = None
    db.commit()
    assert feeds.poll_structure(db, structure.id).status == "not_modified"
    # A new version: the validators change, nothing is imported twice.
    feed_server.serve("/rss.xml", FIXTURES / "rss2.xml", etag='"v2"')
    result = feeds.poll_structure(db, structure.id)
    assert (result.status, result.created, result.duplicates) == ("ok", 0, 3)
    structure = fresh(db, structure)
    assert (structure.feed_etag, structure.feed_modified) == ('"v2"', None)
    assert len(contributions_of(db, structure.id)) == 3


def test_304_after_a_failure_counts_as_success(db, feed_server):
    from contributions import feeds
    url = feed_server.serve("/rss.xml", FIXTURES / "rss2.xml", etag='"v1"')
    structure = make_structure(db, url)
    feeds.poll_structure(db, structure.id)
    feed_server.routes["/rss.xml"].status = 503
    assert feeds.poll_structure(db, structure.id).status == "failed"
    assert fresh(db, structure).feed_failures == 1
    feed_server.routes["/rss.xml"].status = 200
    assert feeds.poll_structure(db, structure.id).status == "not_modified"
    structure = fresh(db, structure)
    assert structure.feed_failures == 0 and structure.feed_error is None


def test_malformed_feed_still_imports_and_warns_in_french(db, feed_server):
    from contributions import feeds
    url = feed_server.serve("/bozo.xml", FIXTURES / "bozo.xml")
    structure = make_structure(db, url)
    result = feeds.poll_structure(db, structure.id)
    assert result.status == "ok" and result.created >= 1
    structure = fresh(db, structure)
    assert structure.feed_warning.startswith("Flux mal formé : ce n'est pas du XML valide (ligne ")
    assert "Seuls les articles lisibles ont été importés" in structure.feed_warning
    assert structure.feed_failures == 0 and structure.feed_error is None
    titles = [c.title for c in contributions_of(db, structure.id)]
    assert any(t.startswith("Fête de quartier") for t in titles)
    for c in contributions_of(db, structure.id):
        assert_clean_contribution(c)
    # Once the feed is repaired, the warning goes away.
    feed_server.serve("/bozo.xml", FIXTURES / "rss2.xml")
    assert feeds.poll_structure(db, structure.id).status == "ok"
    assert fresh(db, structure).feed_warning is None


def test_same_id_new_link_is_no_duplicate(db, feed_server):
    from contributions import feeds
    url = feed_server.serve("/p.xml", FIXTURES / "link_changed_v1.xml")
    structure = make_structure(db, url)
    assert feeds.poll_structure(db, structure.id).created == 1
    feed_server.serve("/p.xml", FIXTURES / "link_changed_v2.xml")
    result = feeds.poll_structure(db, structure.id)
    assert (result.created, result.duplicates) == (0, 1)
    [item] = contributions_of(db, structure.id)
    assert item.feed_entry_id == "passerelle-118"
    # What the editor may already have reviewed is left as it was.
    assert item.link == "https://passerelle.example.org/?p=118"


def test_entries_without_id_are_deduplicated_by_link_then_by_content(db, feed_server):
    from contributions import feeds
    url = feed_server.serve("/laep.xml", FIXTURES / "no_id_v1.xml")
    structure = make_structure(db, url)
    assert feeds.poll_structure(db, structure.id).created == 3
    keys = {c.title: c.feed_entry_id for c in contributions_of(db, structure.id)}
    assert keys["Le LAEP ouvre le samedi"] == "https://petits-pas.example.org/samedi"
    assert keys["Merci aux bénévoles"].startswith("sha256:")
    feed_server.serve("/laep.xml", FIXTURES / "no_id_v2.xml")
    result = feeds.poll_structure(db, structure.id)
    # Re-titled « samedi » is the same link; the link-less entry has the same title and text.
    assert (result.created, result.duplicates) == (1, 3)
    assert result.titles == ["Nouveau : atelier massage bébé"]
    assert len(contributions_of(db, structure.id)) == 4


def test_a_new_id_on_a_known_link_is_no_duplicate(db, feed_server):
    """Deduplicated by id, then by link: a site that changed its guid scheme is not imported again."""
    from contributions import feeds
    url = feed_server.serve("/p.xml", FIXTURES / "link_changed_v1.xml")
    structure = make_structure(db, url)
    feeds.poll_structure(db, structure.id)
    feed_server.serve("/p.xml", (FIXTURES / "link_changed_v1.xml").read_text().replace("passerelle-118", "urn:new:118"))
    assert feeds.poll_structure(db, structure.id).duplicates == 1
    assert len(contributions_of(db, structure.id)) == 1


def test_deduplication_survives_a_restart(db, feed_server):
    """Nothing in memory: a new process (here, a fresh session and a cleared state) finds the rows."""
    from contributions import feeds
    from core import db as database
    url = feed_server.serve("/rss.xml", FIXTURES / "rss2.xml")
    structure = make_structure(db, url)
    feeds.poll_structure(db, structure.id)
    other = database.SessionFactory()
    try:
        assert feeds.poll_structure(other, structure.id).created == 0
    finally:
        other.close()
    assert len(contributions_of(db, structure.id)) == 3


def test_database_refuses_a_second_row_for_the_same_entry(db):
    from sqlalchemy.exc import IntegrityError

    from contributions.models import Contribution, ContributionKind
    structure = make_structure(db, None)
    for _ in range(2):
        db.add(Contribution(structure_id=structure.id, kind=ContributionKind.actualite, title="x",
                            source="feed", feed_entry_id="same"))
    with pytest.raises(IntegrityError):
        db.commit()
    db.rollback()


def test_concurrent_polls_of_one_structure_do_not_crash_or_duplicate(db, feed_server):
    from contributions import feeds
    url = feed_server.serve("/rss.xml", FIXTURES / "rss2.xml")
    structure = make_structure(db, url)
    barrier = threading.Barrier(2, timeout=30)

    def fetch_together(url, etag, modified):
        response = feeds.http_fetch(url, etag, modified)
        barrier.wait()  # both polls have fetched before either inserts
        return response

    results = run_concurrently(
        lambda session, _: feeds.poll_structure(session, structure.id, fetch_together), 2)
    assert sorted(r.status for r in results) == ["ok", "ok"]
    assert sum(r.created for r in results) == 3
    assert sum(r.duplicates for r in results) == 3
    assert len(contributions_of(db, structure.id)) == 3


def test_feedparser_never_opens_what_the_body_names(db, feed_server, tmp_path):
    """The body is handed to feedparser as a stream: a body that is a URL or a file path is text."""
    from contributions import feeds
    secret = tmp_path / "secret.xml"
    secret.write_bytes((FIXTURES / "rss2.xml").read_bytes())
    feed_server.serve("/secret.xml", FIXTURES / "rss2.xml")
    for path, body in (("/url", feed_server.url("/secret.xml")), ("/path", str(secret))):
        structure = make_structure(db, feed_server.serve(path, body, content_type="text/plain"))
        result = feeds.poll_structure(db, structure.id)
        assert result.status == "failed" and result.created == 0
        assert "n'est pas un flux RSS ou Atom" in result.error
    assert feed_server.hits("/secret.xml") == []


# --- Hostile input ----------------------------------------------------------------------------------

XSS_PAYLOADS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<img src=x onerror=alert(1)>",
    "<IMG SRC=\"javascript:alert('XSS');\">",
    "<svg/onload=alert(1)>",
    "<svg><script>alert(1)</script></svg>",
    "<body onload=alert(1)>",
    "<iframe src=\"javascript:alert(1)\"></iframe>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=\"JaVaScRiPt:alert(1)\">x</a>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"jav&#x09;ascript:alert(1)\">x</a>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<div style=\"width: expression(alert(1))\">x</div>",
    "<style>@import 'javascript:alert(1)';</style>",
    "<link rel=stylesheet href=\"javascript:alert(1)\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<object data=\"javascript:alert(1)\"></object>",
    "<embed src=\"javascript:alert(1)\">",
    "<form action=\"javascript:alert(1)\"><input type=submit></form>",
    "<button formaction=\"javascript:alert(1)\">x</button>",
    "<input onfocus=alert(1) autofocus>",
    "<details open ontoggle=alert(1)>",
    "<video><source onerror=\"alert(1)\"></video>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<base href=\"javascript:alert(1)//\">",
    "\"><script>alert(1)</script>",
    "'><img src=x onerror=alert(1)>",
    "<p onclick=\"alert(1)\" onmouseover=\"alert(1)\">x</p>",
    "<a href=\"https://ok.example.org/\" onclick=\"alert(1)\" style=\"color:red\">ok</a>",
    "[x](javascript:alert(1))",
    "![x](javascript:alert(1))",
    "<javascript:alert(1)>",
    "[x](&#106;avascript:alert(1))",
    "<!--<img src=x onerror=alert(1)>-->",
    "<![CDATA[<script>alert(1)</script>]]>",
]


def _escape_xml(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def hostile_rss(payloads: list[str]) -> str:
    items = []
    for i, payload in enumerate(payloads):
        items.append(f"""<item>
  <title>{_escape_xml(payload)} Titre {i}</title>
  <link>{_escape_xml(payload if i % 2 else "javascript:alert(1)")}</link>
  <guid isPermaLink="false">p-{i}</guid>
  <description>{_escape_xml("<p>Texte " + str(i) + "</p>" + payload)}</description>
</item>""")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>{_escape_xml(payloads[0])}</title>{''.join(items)}</channel></rss>"""


def hostile_atom(payloads: list[str]) -> str:
    entries = []
    for i, payload in enumerate(payloads):
        entries.append(f"""<entry>
  <id>urn:x:{i}</id>
  <title type="html">{_escape_xml(payload)} Atom {i}</title>
  <link rel="alternate" href="{_escape_xml(payload).replace('"', '&quot;')}"/>
  <content type="html">{_escape_xml("<p>Contenu " + str(i) + "</p>" + payload)}</content>
</entry>""")
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Atom</title>{''.join(entries)}</feed>"""


@pytest.mark.parametrize("build", [hostile_rss, hostile_atom], ids=["rss", "atom"])
def test_xss_payloads_never_survive(db, feed_server, build):
    from contributions import feeds
    url = feed_server.serve("/x.xml", build(XSS_PAYLOADS))
    structure = make_structure(db, url)
    result = feeds.poll_structure(db, structure.id)
    assert result.status == "ok"
    items = contributions_of(db, structure.id)
    assert len(items) == len(XSS_PAYLOADS)  # one entry per payload, none lost
    for c in items:
        assert_clean_contribution(c)
        assert re.search(r"(Texte|Contenu) \d+", c.body_md)


def test_hostile_fixture_on_every_page_that_shows_it(db, feed_server, world, client):
    from contributions import feeds
    url = feed_server.serve("/hostile.xml", FIXTURES / "hostile.xml")
    structure = world["tilleuls"]
    structure.feed_url = url
    db.commit()
    assert feeds.poll_structure(db, structure.id).created == 3
    items = contributions_of(db, structure.id)
    for c in items:
        assert_clean_contribution(c)
        assert c.link is None or c.link.startswith("https://")
    assert {c.title for c in items} >= {"Atelier parents"}
    login(client, "redaction@reaap.test", "mdp-redaction")
    pages = [client.get("/redaction/moderation/").get_data(as_text=True)]
    pages += [client.get(f"/redaction/moderation/{c.id}").get_data(as_text=True) for c in items]
    for page in pages:
        audit = _Audit()
        audit.feed(page)
        for tag, attrs in audit.elements:
            assert tag not in {"script", "iframe", "svg", "img", "object", "embed", "style", "base", "math"}, tag
            for name, value in attrs:
                assert not (name.startswith("on") or name == "style"), (tag, name, value)
                if name in ("href", "src", "action", "formaction"):
                    assert urlsplit((value or "").strip()).scheme.lower() in ("", "http", "https", "mailto"), value


# --- Failures ---------------------------------------------------------------------------------------

def test_failures_count_then_editors_are_told_once(db, feed_server, world, captured_jobs):
    from contributions import feeds
    from mailing.models import OutboundEmail
    structure = world["asso"]
    structure.feed_url = feed_server.url("/absent.xml")
    db.commit()
    errors = []
    for _ in range(4):
        result = feeds.poll_structure(db, structure.id)
        assert result.status == "failed"
        errors.append(result.error)
    assert errors[0] == "Le flux est introuvable à cette adresse (erreur HTTP 404) ; vérifiez l'adresse."
    structure = fresh(db, structure)
    assert structure.feed_failures == 4 and structure.feed_error == errors[-1]
    assert structure.feed_checked_at is not None and structure.feed_ok_at is None
    assert feeds.feed_flagged(structure)
    mails = list(db.scalars(select(OutboundEmail).where(OutboundEmail.template == "feed_failing")))
    assert [m.to_addr for m in mails] == ["redaction@reaap.test"]  # once, at the third failure
    assert "Association Parents Ensemble" in mails[0].subject
    assert "erreur HTTP 404" in mails[0].text_body and f"/redaction/structures/{structure.id}" in mails[0].text_body
    # A success resets the count and the error; a later run of failures is told again.
    feed_server.serve("/absent.xml", FIXTURES / "rss2.xml")
    assert feeds.poll_structure(db, structure.id).status == "ok"
    structure = fresh(db, structure)
    assert (structure.feed_failures, structure.feed_error) == (0, None) and not feeds.feed_flagged(structure)


@pytest.mark.parametrize("case", ["500", "403", "refused", "html", "empty", "too_large", "timeout", "bad_scheme"])
def test_each_failure_is_recorded_in_french(db, feed_server, monkeypatch, case):
    from contributions import feeds
    expected = {
        "500": "Le site de la structure est en panne (erreur HTTP 500).",
        "403": "Le site refuse l'accès au flux (erreur HTTP 403).",
        "refused": "Impossible de joindre le site",
        "html": "Le contenu reçu n'est pas un flux RSS ou Atom lisible (type annoncé : text/html).",
        "empty": "n'est pas un flux RSS ou Atom",
        "too_large": "Le flux dépasse la taille maximale acceptée",
        "timeout": "Le site n'a pas répondu à temps.",
        "bad_scheme": "L'adresse du flux doit commencer par http:// ou https://.",
    }[case]
    if case == "500":
        url = feed_server.serve("/f", b"", status=500)
    elif case == "403":
        url = feed_server.serve("/f", b"", status=403)
    elif case == "refused":
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}/feed.xml"  # nobody listens there
    elif case == "html":
        url = feed_server.serve("/f", "<!doctype html><html><body><p>Bienvenue</p></body></html>",
                                content_type="text/html; charset=utf-8")
    elif case == "empty":
        url = feed_server.serve("/f", b"")
    elif case == "too_large":
        monkeypatch.setattr(feeds, "MAX_FEED_BYTES", 1000)
        url = feed_server.serve("/f", FIXTURES / "rss2.xml")
    elif case == "timeout":
        monkeypatch.setattr(feeds, "READ_TIMEOUT", 0.3)
        url = feed_server.serve("/f", FIXTURES / "rss2.xml", delay=1.5)
    else:
        url = "file:///etc/passwd"
    structure = make_structure(db, url)
    result = feeds.poll_structure(db, structure.id)
    assert result.status == "failed" and expected in result.error
    structure = fresh(db, structure)
    assert structure.feed_failures == 1 and expected in structure.feed_error
    assert contributions_of(db, structure.id) == []


def test_a_body_that_names_a_local_file_is_parsed_as_text_never_opened(db, feed_server, tmp_path):
    """feedparser opens a str or bytes argument as a path or URL; the poller hands it a BytesIO.
    The body names a local feed file: opened, its entry would become a contribution."""
    from contributions import feeds
    local = tmp_path / "local.xml"
    local.write_text(FIXTURES.joinpath("rss2.xml").read_text(encoding="utf-8").replace(
        "<title>", "<title>LU SUR LE DISQUE ", 2), encoding="utf-8")
    structure = make_structure(db, feed_server.serve("/f", str(local).encode()))
    feeds.poll_structure(db, structure.id)
    assert not any("LU SUR LE DISQUE" in c.title for c in contributions_of(db, structure.id))


def test_one_failing_feed_never_blocks_the_others(db, feed_server):
    from contributions import feeds
    good_url = feed_server.serve("/good.xml", FIXTURES / "rss2.xml")
    broken = make_structure(db, feed_server.url("/broken.xml"), "Cassée")
    crashing = make_structure(db, "https://crash.example.org/feed", "Plante")
    good = make_structure(db, good_url, "Bonne")
    make_structure(db, None, "Sans flux")

    def fetch(url, etag, modified):
        if "crash" in url:
            raise RuntimeError("bug in a fetcher")
        return feeds.http_fetch(url, etag, modified)

    results = {r.structure_id: r for r in feeds.poll_all(db, fetch)}
    assert set(results) == {broken.id, crashing.id, good.id}
    assert results[broken.id].status == "failed" and results[crashing.id].status == "failed"
    assert results[good.id].created == 3
    assert "Erreur interne" in fresh(db, crashing).feed_error
    # Polled just now: nothing is due until FEED_POLL_MINUTES have passed.
    assert feeds.due_structure_ids(db) == []
    assert feeds.poll_all(db, fetch) == []


def test_due_structures(db):
    from datetime import timedelta

    from contributions import feeds
    from core.db import utcnow
    now = utcnow()
    never = make_structure(db, "https://a.example.org/feed", "Jamais relevée")
    old = make_structure(db, "https://b.example.org/feed", "Relevée il y a 2 h")
    recent = make_structure(db, "https://c.example.org/feed", "Relevée il y a 10 min")
    make_structure(db, None, "Sans flux")
    make_structure(db, "", "Flux vide")
    old.feed_checked_at = now - timedelta(hours=2)
    recent.feed_checked_at = now - timedelta(minutes=10)
    db.commit()
    assert feeds.due_structure_ids(db, now) == [never.id, old.id]
    assert feeds.due_structure_ids(db, now + timedelta(minutes=56)) == [never.id, old.id, recent.id]


# --- The structure page, the button, the CLI ----------------------------------------------------------

def test_structure_page_shows_the_feed_state_and_the_poll_button(db, feed_server, world, client, captured_jobs):
    from contributions import feeds
    structure = world["tilleuls"]
    structure.feed_url = feed_server.serve("/bozo.xml", FIXTURES / "bozo.xml")
    db.commit()
    feeds.poll_structure(db, structure.id)
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get(f"/redaction/structures/{structure.id}").get_data(as_text=True)
    assert html.escape(fresh(db, structure).feed_warning, quote=False) in page.replace("&#39;", "'")
    assert "Relever le flux maintenant" in page
    action = f"/redaction/structures/{structure.id}/flux/relever"
    assert f'action="{action}"' in page

    response = client.post(action)
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/redaction/structures/{structure.id}")
    assert ("tasks.feeds.poll_structure", (structure.id,)) in captured_jobs
    assert "Relevé du flux demandé" in client.get(f"/redaction/structures/{structure.id}").get_data(as_text=True)


def test_structure_page_shows_failures(db, world, client, captured_jobs):
    from contributions import feeds
    structure = world["tilleuls"]
    structure.feed_url = "http://127.0.0.1:1/feed.xml"
    db.commit()
    for _ in range(3):
        feeds.poll_structure(db, structure.id)
    login(client, "redaction@reaap.test", "mdp-redaction")
    page = client.get(f"/redaction/structures/{structure.id}").get_data(as_text=True)
    assert "Impossible de joindre le site" in page
    assert "Flux signalé : la rédaction a été prévenue par e-mail." in page


def test_poll_button_is_for_editors_only(db, world, client, captured_jobs):
    structure = world["tilleuls"]
    structure.feed_url = "https://tilleuls.example.org/feed"
    db.commit()
    login(client, "amina@tilleuls.test", "mdp-partenaire")
    assert client.post(f"/redaction/structures/{structure.id}/flux/relever").status_code == 403
    assert captured_jobs == []


def test_cli_feeds_poll(db, feed_server):
    from parentalites.cli import main
    good = make_structure(db, feed_server.serve("/rss.xml", FIXTURES / "rss2.xml"), "Bonne")
    bad = make_structure(db, feed_server.url("/absent"), "Cassée")
    runner = CliRunner()
    one = runner.invoke(main, ["feeds", "poll", "--structure", str(good.id)])
    assert one.exit_code == 0, one.output
    assert f"Structure {good.id} : 3 nouvelles contributions, 0 déjà connue" in one.output
    every = runner.invoke(main, ["feeds", "poll"])
    assert every.exit_code == 1
    assert f"Structure {good.id} : 0 nouvelle contribution, 3 déjà connues" in every.output
    assert f"Structure {bad.id} : échec — Le flux est introuvable" in every.output
    assert "2 flux relevés, 1 en échec." in every.output
    assert len(contributions_of(db, good.id)) == 3


# --- The real Celery worker ------------------------------------------------------------------------------

def test_celery_worker_polls_a_feed_into_the_moderation_queue(db, feed_server, world, client, celery_worker):
    from contributions.models import Contribution, ContributionStatus
    from parentalites.celery_app import celery_app
    structure = world["tilleuls"]
    structure.feed_url = feed_server.serve("/rss.xml", FIXTURES / "rss2.xml", etag='"w1"')
    db.commit()

    celery_app.send_task("tasks.feeds.poll_feeds")

    def imported():
        db.expire_all()
        return db.scalar(select(func.count()).select_from(Contribution).where(
            Contribution.structure_id == structure.id, Contribution.source == "feed",
            Contribution.status == ContributionStatus.submitted)) == 3
    wait_for(imported, timeout=60, message="the worker to import the feed")
    assert fresh(db, structure).feed_etag == '"w1"'
    login(client, "redaction@reaap.test", "mdp-redaction")
    queue = client.get("/redaction/moderation/").get_data(as_text=True)
    assert "Café des parents : « Les écrans à la maison »" in html.unescape(queue)
    assert "Sortie familles au bord de la Marne" in queue
    assert queue.count("flux RSS") == 3  # the editor sees where each came from


# --- The upstream corpora, every file ------------------------------------------------------------------

def _corpus_files() -> list:
    files = sorted(CORPUS.glob("*/*.xml")) if CORPUS.exists() else []
    return [pytest.param(f, id=f"{f.parent.name}/{f.name}") for f in files] or [
        pytest.param(None, id="corpus-absent")]


def _manifest_rows() -> dict[str, dict]:
    rows = {}
    for manifest in CORPUS.glob("*/MANIFEST.csv"):
        with open(manifest, encoding="utf-8", newline="") as handle:
            for row in csv.DictReader(handle):
                rows[row["file"]] = row
    return rows


def _literal(node):
    """The value of a literal, strings joined by + included (one Expect line builds one that way)."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal(node.left) + _literal(node.right)
    return ast.literal_eval(node)


# Expectations about what feedparser keeps and we do not store: language, encoding name, channel
# dates, enclosures, the rel of a link. They are reported as not applicable to the ingester.
NOT_APPLICABLE = (
    "encoding", "feed['language']", "entries[0]['language']", "feed['updated_parsed']",
    "entries[0]['enclosures'][0]['url']", "entries[0]['links'][0]['rel']",
)
BODY_FIELDS = ("entries[0]['description']", "entries[0].summary", "entries[0]['summary']",
               "entries[0]['content'][0]['value']")
CHECKED_CLAUSES: dict[str, int] = {}


def _check_clause(clause: ast.expr, *, structure, items, result) -> str:
    """Check one `and`-clause of an upstream Expect line against what we stored; returns how."""
    from core.formatting import long_date
    from core.text import render_markdown
    source = ast.unparse(clause)
    if source == "bozo":
        assert structure.feed_warning or structure.feed_error, "a bozo feed leaves a warning (or an error)"
        return "bozo → warning"
    if source == "not bozo":
        assert structure.feed_warning is None and structure.feed_error is None
        return "not bozo → no warning"
    if source == "1":
        return "no crash"
    if source == "not entries[0].has_key('link')":
        assert all(c.link is None for c in items)
        return "no link invented"
    assert isinstance(clause, ast.Compare) and isinstance(clause.ops[0], ast.Eq), source
    left, expected = ast.unparse(clause.left), _literal(clause.comparators[0])
    if left in NOT_APPLICABLE:
        return "n/a"
    if left == "feed['title']":
        assert all(f"« {expected} »" in c.transitions[0].comment for c in items)
        return "feed title" if items else "n/a (feed title, no entry)"
    if not items:
        # Only entries with nothing to show (no title, text or link) are left out.
        assert result.empty >= 1, f"{source}: no contribution although the entry has content"
        return "entry empty, skipped"
    first = items[0]
    if left in ("entries[0].link", "entries[0]['link']"):
        assert first.link == expected
        return "link"
    if left == "entries[0]['id']":
        assert first.feed_entry_id == expected
        return "entry id"
    if left in BODY_FIELDS:
        assert visible_text(str(render_markdown(first.body_md))) == visible_text(expected)
        return "body text"
    if left == "ord(entries[0]['description'])":
        assert visible_text(str(render_markdown(first.body_md))) == chr(expected)
        return "body text"
    if left == "entries[0]['published']":
        assert f"publiée sur le site le {long_date(parsedate_to_datetime(expected))}" in first.transitions[0].comment
        return "date"
    pytest.fail(f"an Expect clause this test does not know: {source}")


@pytest.mark.parametrize("path", _corpus_files())
def test_corpus_feed(db, feed_server, path):
    from contributions import feeds
    root = shared_path("corpora", "feeds")
    assert path is not None and path.is_relative_to(root)
    rel = f"{path.parent.name}/{path.name}"
    row = _manifest_rows().get(rel)
    assert row is not None, f"{rel} is not in its MANIFEST.csv"
    options = {"content_type": None}  # upstream parses the bytes with no HTTP header, unless told
    simulated = (row.get("http_headers_to_simulate") or "").strip()
    if simulated:
        name, _, value = simulated.partition(":")
        assert name.strip().lower() == "content-type", simulated
        options["content_type"] = value.strip()
    url = feed_server.serve("/corpus.xml", path, **options)
    structure = make_structure(db, url, name=path.stem[:200])

    result = feeds.poll_structure(db, structure.id)

    structure = fresh(db, structure)
    items = contributions_of(db, structure.id)
    assert result.status in ("ok", "failed"), result
    if result.status == "failed":  # only a document with no feed in it at all
        assert "n'est pas un flux RSS ou Atom" in structure.feed_error
    for c in items:
        assert_clean_contribution(c)
        assert c.source == "feed" and c.transitions[0].comment.startswith("Importée du flux")
        if not structure.feed_warning:  # a well-formed feed is decoded right: no mojibake
            assert "\ufffd" not in c.title + c.body_md and "Ã" not in c.title + c.body_md
    # Every item/entry element became a contribution, or was empty (nothing to show).
    raw = path.read_bytes()
    text = raw.decode("utf-16") if raw[:2] in (b"\xff\xfe", b"\xfe\xff") else raw.decode("latin-1")
    elements = len(re.findall(r"<(?:item|entry)[\s>]", text))
    assert len(items) + result.empty == (elements if result.status == "ok" else 0), (len(items), result, elements)

    # Re-poll: nothing new.
    again = feeds.poll_structure(db, structure.id)
    assert again.created == 0 and len(contributions_of(db, structure.id)) == len(items)

    # What upstream says about this file, where it applies to what we store.
    checked = []
    if row.get("feedparser_expect"):
        tree = ast.parse(row["feedparser_expect"], mode="eval").body
        clauses = tree.values if isinstance(tree, ast.BoolOp) and isinstance(tree.op, ast.And) else [tree]
        for clause in clauses:
            checked.append(_check_clause(clause, structure=structure, items=items, result=result))
    note = row.get("note") or ""
    if match := re.search(r"expected (\d+) item", note):
        assert len(items) == int(match.group(1))
        checked.append("item count")
    if "items non-empty" in note:
        assert items
        checked.append("items non-empty")
    if match := re.search(r"expected channel title '([^']+)'", note):
        assert all(f"« {match.group(1)} »" in c.transitions[0].comment for c in items) and items
        checked.append("feed title")
    if (row.get("language") or "").startswith("fr"):
        assert items and all(re.search(r"[a-zA-Zéèàç]", c.title) for c in items)
        checked.append("French titles readable")
    for how in checked:
        CHECKED_CLAUSES[how] = CHECKED_CLAUSES.get(how, 0) + 1


# --- SSRF: no feed, and no redirect, leads into a private network ------------------------------------

class _Redirector(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802
        self.server.hits.append(self.path)
        target = self.server.targets.get(self.path)
        if target is None:
            body = (FIXTURES / "rss2.xml").read_bytes().replace(b"Sortie familles", b"SECRET-INTERNE")
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def servers():
    """A public-looking server on 127.0.0.1 (allowed by FEED_ALLOWED_NETWORKS in the tests) and an
    internal one on 127.0.0.2 (loopback, not allowed), both real."""
    started = []
    for host in ("127.0.0.1", "127.0.0.2"):
        httpd = ThreadingHTTPServer((host, 0), _Redirector)
        httpd.daemon_threads = True
        httpd.hits, httpd.targets = [], {}
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        started.append(httpd)
    yield started
    for httpd in started:
        httpd.shutdown()
        httpd.server_close()


def internal_targets(internal_port: int) -> list[str]:
    return [f"http://127.0.0.2:{internal_port}/secret.xml", "http://169.254.169.254/latest/meta-data/",
            f"http://[::1]:{internal_port}/secret.xml", f"http://0.0.0.0:{internal_port}/secret.xml",
            "http://10.0.0.1/", "http://192.168.1.1/", "http://224.0.0.1/", "http://[fe80::1]/",
            f"http://[::ffff:127.0.0.2]:{internal_port}/secret.xml", "file:///etc/passwd", "gopher://127.0.0.2:70/",
            f"http://2130706434:{internal_port}/secret.xml"]  # 127.0.0.2 as one number


def test_a_redirect_to_a_private_loopback_or_link_local_address_is_refused(db, servers):
    from contributions import feeds
    public, internal = servers
    for n, target in enumerate(internal_targets(internal.server_address[1])):
        public.targets[f"/feed{n}.xml"] = target
        structure = make_structure(db, f"http://127.0.0.1:{public.server_address[1]}/feed{n}.xml", name=f"S{n}")
        result = feeds.poll_structure(db, structure.id)
        db.refresh(structure)
        assert result.status == "failed", (target, result)
        assert "réseau privé ou interne" in structure.feed_error or "http:// ou https://" in structure.feed_error, (
            target, structure.feed_error)
        assert not contributions_of(db, structure.id)
    assert internal.hits == []


def test_a_feed_address_in_a_private_network_is_refused_before_any_connection(db, servers, monkeypatch):
    from contributions import feeds
    from core.settings import reset_settings
    monkeypatch.setenv("FEED_ALLOWED_NETWORKS", "")
    reset_settings()
    try:
        public = servers[0]
        structure = make_structure(db, f"http://127.0.0.1:{public.server_address[1]}/direct.xml")
        assert feeds.poll_structure(db, structure.id).status == "failed"
        db.refresh(structure)
        assert "réseau privé ou interne" in structure.feed_error and public.hits == []
    finally:
        monkeypatch.undo()
        reset_settings()


def test_a_feed_error_never_shows_the_http_clients_own_words(db, servers):
    from contributions import feeds
    from parentalites.catcher import free_port
    structure = make_structure(db, f"http://127.0.0.1:{free_port()}/ferme.xml")  # nobody listens
    assert feeds.poll_structure(db, structure.id).status == "failed"
    db.refresh(structure)
    assert structure.feed_error == "Impossible de joindre le site du flux."
    for word in ("Connection", "Errno", "Pool", "127.0.0.1", "refused"):
        assert word not in structure.feed_error
