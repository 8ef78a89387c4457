"""Feed ingestion: a structure's RSS/Atom feed becomes submitted contributions.

Each poll is a conditional GET (ETag / Last-Modified), with a timeout and a size limit; the bytes
are handed to feedparser (never the URL: feedparser does no network or file I/O of its own). Every
new entry becomes one *submitted* contribution coming from the feed, deduplicated by entry id,
then by link, then by a hash of its title and content, across polls and restarts (a unique index
on (structure_id, feed_entry_id) backs the check). Entry HTML is cleaned with nh3 and turned into
Markdown, which every output path renders through `core.text.render_markdown`.

A malformed (bozo) feed still gives what could be parsed and leaves a French warning on the
structure; a feed that fails `FEED_FAILURE_THRESHOLD` times in a row is flagged and the editors
are told once by e-mail. `poll_all` polls each due structure in its own transaction, so one
failing feed never blocks the others.
"""
from __future__ import annotations

import hashlib
import html
import io
import logging
import re
import time
import xml.sax
from calendar import timegm
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import feedparser
import nh3
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from accounts.models import Role, User
from contributions.models import (
    Contribution,
    ContributionKind,
    ContributionStatus,
    ContributionTransition,
    Structure,
)
from core import jobs, urls
from core.db import utcnow
from core.formatting import long_date
from core.public_address import PrivateAddress, UnknownHost, public_addresses
from core.settings import get_settings
from core.text import URL_SCHEMES, WEB_SCHEMES, safe_url
from mailing.outbox import queue_email

log = logging.getLogger(__name__)

SOURCE = "feed"
CONNECT_TIMEOUT = 10.0      # seconds to reach the site
READ_TIMEOUT = 20.0         # seconds between two bytes
TOTAL_TIMEOUT = 60.0        # seconds for the whole download, however slowly it trickles
MAX_FEED_BYTES = 5 * 1024 * 1024
MAX_ENTRIES_PER_POLL = 100  # a first poll of a long archive must not flood the moderation queue
MAX_BODY_CHARS = 20_000
TITLE_MAX = 300             # Contribution.title
KEY_MAX = 1000              # Contribution.feed_entry_id
LINK_MAX = 1000             # Contribution.link
USER_AGENT = "Parentalites/1.0 (lettre du Reaap; lecture de flux RSS/Atom)"
ACCEPT = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5"


# --- Fetching -----------------------------------------------------------------------------------

class FeedFetchError(Exception):
    """The feed could not be fetched; the message says why, in French, for the editor."""


@dataclass
class FetchResponse:
    status: int
    content: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    url: str = ""


Fetch = Callable[[str, str | None, str | None], FetchResponse]


MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)
PRIVATE_TARGET = ("L'adresse du flux (ou une adresse vers laquelle le site renvoie) mène à un réseau privé ou "
                  "interne : elle ne peut pas être relevée.")


def _checked_addresses(host: str, port: int) -> list[str]:
    """Every address the host resolves to, all of them public (core.public_address), or
    FeedFetchError: a name that also resolves into a private network is refused whole."""
    try:
        return public_addresses(host, port)
    except UnknownHost:
        raise FeedFetchError("Le nom du site du flux est introuvable (erreur de nom de domaine).") from None
    except PrivateAddress:
        raise FeedFetchError(PRIVATE_TARGET) from None


def _pool(scheme: str, host: str, address: str, port: int):
    """A connection pool to the checked `address`, never to the name again (no second resolution
    that could answer otherwise); for https the certificate is checked against `host`, and SNI
    names it."""
    import certifi
    import urllib3

    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1,
                                           cert_reqs="CERT_REQUIRED", ca_certs=certifi.where(),
                                           server_hostname=host, assert_hostname=host)
    return urllib3.HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)


def http_fetch(url: str, etag: str | None, modified: str | None) -> FetchResponse:
    """GET the feed with the stored validators; stop at MAX_FEED_BYTES and TOTAL_TIMEOUT. Every
    hop (the feed's address, then each redirect) must be http(s) to a name whose every address is
    public; the connection goes to the address checked. Errors are French sentences for the
    partner and the editors; the HTTP client's own words go to the log only."""
    import urllib3

    headers = {"User-Agent": USER_AGENT, "Accept": ACCEPT, "Accept-Encoding": "identity"}
    if etag:
        headers["If-None-Match"] = etag
    if modified:
        headers["If-Modified-Since"] = modified
    started = time.monotonic()
    for _hop in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
        if scheme not in ("http", "https") or not host:
            raise FeedFetchError("L'adresse du flux doit commencer par http:// ou https://.")
        try:
            port = parts.port or (443 if scheme == "https" else 80)
        except ValueError:
            raise FeedFetchError("L'adresse du flux est mal formée (port invalide).") from None
        address = _checked_addresses(host, port)[0]
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = parts.netloc.rpartition("@")[2]
        try:
            with _pool(scheme, host, address, port) as pool:
                response = pool.urlopen("GET", target, headers={**headers, "Host": host_header}, redirect=False,
                                        preload_content=False, assert_same_host=False)
                try:
                    if response.status in _REDIRECTS and response.headers.get("location"):
                        url = urljoin(url, response.headers["location"].strip())
                        continue
                    return _read(response, url, started)
                finally:
                    response.release_conn()
        except urllib3.exceptions.SSLError as exc:
            log.info("feed %s: TLS error %s", url, exc)
            raise FeedFetchError("Connexion sécurisée impossible : le certificat du site est refusé.") from None
        except urllib3.exceptions.NewConnectionError as exc:  # a ConnectTimeoutError too, for urllib3
            log.info("feed %s: %s", url, exc)
            raise FeedFetchError("Impossible de joindre le site du flux.") from None
        except (urllib3.exceptions.TimeoutError, TimeoutError) as exc:
            log.info("feed %s: timeout %s", url, exc)
            raise FeedFetchError("Le site n'a pas répondu à temps.") from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            log.info("feed %s: %s", url, exc)
            raise FeedFetchError("Impossible de joindre le site du flux.") from None
    raise FeedFetchError("Le site renvoie vers trop d'adresses successives (redirections en boucle ?).")


def _read(response, url: str, started: float) -> FetchResponse:
    response_headers = {k.lower(): v for k, v in response.headers.items()}
    if response.status != 200:
        return FetchResponse(response.status, b"", response_headers, url)
    declared = response_headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_FEED_BYTES:
        raise FeedFetchError(_too_large())
    chunks, size = [], 0
    for chunk in response.stream(64 * 1024, decode_content=True):
        size += len(chunk)
        if size > MAX_FEED_BYTES:
            raise FeedFetchError(_too_large())
        if time.monotonic() - started > TOTAL_TIMEOUT:
            raise FeedFetchError(f"Le téléchargement du flux a duré plus de {TOTAL_TIMEOUT:.0f} secondes.")
        chunks.append(chunk)
    return FetchResponse(200, b"".join(chunks), response_headers, url)


def _too_large() -> str:
    return f"Le flux dépasse la taille maximale acceptée ({MAX_FEED_BYTES // (1024 * 1024)} Mo)."


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --- From HTML to Markdown ------------------------------------------------------------------------

# What survives the first nh3 pass; everything else (script, style, iframe, handlers, images…) is gone.
_KEPT_TAGS = {"p", "div", "br", "a", "strong", "b", "em", "i", "ul", "ol", "li", "blockquote",
              "h1", "h2", "h3", "h4", "h5", "h6", "pre", "code", "hr", "table", "tr", "td", "th"}
_BLOCKS = {"p", "div", "blockquote", "pre", "ul", "ol", "li", "table", "tr",
           "h1", "h2", "h3", "h4", "h5", "h6", "hr"}
_HEADINGS = {"h1": "## ", "h2": "## ", "h3": "### ", "h4": "#### ", "h5": "#### ", "h6": "#### "}
_INLINE_SPECIALS = re.compile(r"([\\`*_\[\]<>|~])")
_ENTITY = re.compile(r"&(#?\w+;)")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")


def _escape_text(text: str) -> str:
    """Text as literal Markdown: no emphasis, link, HTML or entity can come out of it."""
    return _ENTITY.sub(r"\\&\1", _INLINE_SPECIALS.sub(r"\\\1", text))


@dataclass
class _OpenList:
    kind: str  # "ul" or "ol"
    count: int = 0  # items so far


class _MarkdownWriter(HTMLParser):
    """Already-cleaned HTML (the small tag set above) → CommonMark."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.blocks: list[tuple[str, bool]] = []  # finished blocks, each with "is a list item"
        self.line: list[str] = []    # the block being written
        self.lists: list[_OpenList] = []
        self.links: list[str | None] = []
        self.quote = 0
        self.pre = 0
        self.at_line_start = True    # the next text begins a line: escape a leading « - », « # »…
        self.in_item = False         # the block being written is a list item

    def _flush(self) -> None:
        text = "".join(self.line)
        self.line = []
        self.at_line_start = True
        if self.pre:
            body = text.strip("\n")
            if body.strip():
                self._add("```\n" + body.replace("```", "` ` `") + "\n```")
            return
        indent = text[:len(text) - len(text.lstrip(" "))]  # a nested list item keeps its place
        lines = [" ".join(part.split()) for part in text.split("\n")]
        lines = [line for line in lines if line]
        if lines:
            self._add(indent + "  \n".join(lines), item=self.in_item)  # <br> → hard line break
        self.in_item = False

    def _add(self, block: str, item: bool = False) -> None:
        if self.quote:
            prefix = "> " * self.quote
            block = "\n".join(prefix + line for line in block.split("\n"))
        self.blocks.append((block, item))

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in _BLOCKS:
            self._flush()
        if tag in _HEADINGS:
            self.line.append(_HEADINGS[tag])
        elif tag in ("ul", "ol"):
            self.lists.append(_OpenList(tag))
        elif tag == "li":
            depth = max(len(self.lists) - 1, 0)
            current = self.lists[-1] if self.lists else _OpenList("ul")
            current.count += 1
            self.line.append("   " * depth + (f"{current.count}. " if current.kind == "ol" else "- "))
            self.in_item = True
        elif tag == "blockquote":
            self.quote += 1
        elif tag == "pre":
            self.pre += 1
        elif tag == "hr":
            self._add("* * *")
        elif tag == "br":
            self.line.append("\n")
            self.at_line_start = True
        elif self.pre:
            return
        elif tag in ("strong", "b"):
            self.line.append("**")
        elif tag in ("em", "i"):
            self.line.append("*")
        elif tag == "code":
            self.line.append("`")
        elif tag == "a":
            href = safe_url(dict(attrs).get("href"))
            self.links.append(href)
            if href:
                self.line.append("[")
        elif tag in ("td", "th"):
            self.line.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if not self.pre:
            if tag in ("strong", "b"):
                self.line.append("**")
            elif tag in ("em", "i"):
                self.line.append("*")
            elif tag == "code":
                self.line.append("`")
            elif tag == "a" and self.links:
                href = self.links.pop()
                if href:
                    if self.line and self.line[-1] == "[":
                        self.line.append(_escape_text(href))  # a link with no words shows its address
                    self.line.append(f"](<{href}>)" if "(" in href or ")" in href else f"]({href})")
        if tag in _BLOCKS:
            self._flush()
        if tag in ("ul", "ol") and self.lists:
            self.lists.pop()
        elif tag == "blockquote" and self.quote:
            self.quote -= 1
        elif tag == "pre" and self.pre:
            self.pre -= 1

    def handle_data(self, data: str) -> None:
        if self.pre:
            self.line.append(data)
            return
        text = _escape_text(data)
        if self.at_line_start:
            if not text.strip():
                self.line.append(text)
                return
            text = _escape_line_start(text)
            self.at_line_start = False
        self.line.append(text)

    def markdown(self) -> str:
        self._flush()
        # Consecutive list items stay a tight list (no blank line, no <p> in each <li>).
        out = ""
        previous_item = False
        for block, item in self.blocks:
            if out:
                out += "\n" if item and previous_item else "\n\n"
            out += block
            previous_item = item
        return out


def _escape_line_start(text: str) -> str:
    """Text that would begin a line like a Markdown block marker (« - », « # », « 1. »…)."""
    match = _LINE_START.match(text)
    if not match:
        return text
    if match.group(2)[0].isdigit():  # « 1. » : the escape goes before the dot (a digit has none)
        cut = match.end(2) - 1
        return text[:cut] + "\\" + text[cut:]
    return text[:match.start(2)] + "\\" + text[match.start(2):]


def html_to_markdown(fragment: str) -> str:
    """Entry HTML → Markdown that says the same in words, links and simple structure."""
    cleaned = nh3.clean(fragment, tags=_KEPT_TAGS, attributes={"a": {"href"}},
                        url_schemes=URL_SCHEMES, link_rel=None)
    writer = _MarkdownWriter()
    writer.feed(cleaned)
    writer.close()
    return writer.markdown()


def text_to_markdown(text: str) -> str:
    """Plain text → Markdown that shows it literally, paragraphs kept."""
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n", text)]
    markdown = "\n\n".join(_escape_text(p) for p in paragraphs if p)
    return "\n".join(_escape_line_start(line) for line in markdown.split("\n"))


_TAG_LIKE = re.compile(r"<\s*/?\s*[a-zA-Z!?]")


def plain_title(value: str | None) -> str:
    """A title as plain text: tags (and script/style content) stripped, entities decoded,
    whitespace collapsed, cut to the column's length."""
    text = html.unescape(nh3.clean(value or "", tags=set(), attributes={}))
    if _TAG_LIKE.search(text):  # escaped markup (« &lt;b&gt; ») is markup too in a title
        text = html.unescape(nh3.clean(text, tags=set(), attributes={}))
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())
    if len(text) > TITLE_MAX:
        text = text[: TITLE_MAX - 1].rstrip() + "…"
    return text


# --- One entry --------------------------------------------------------------------------------

_HTML_TYPES = {"text/html", "application/xhtml+xml", "html", "xhtml"}


@dataclass
class EntryData:
    key: str
    title: str
    body_md: str
    link: str | None
    published: datetime | None
    empty: bool = False  # no title, no text, no link: nothing an editor could use


def _entry_html(entry) -> tuple[str, bool]:
    """The richest body the entry has, and whether it is HTML."""
    candidates = []
    for content in entry.get("content") or []:
        candidates.append((content.get("value") or "", content.get("type") or "text/html"))
    detail = entry.get("summary_detail") or {}
    if entry.get("summary"):
        candidates.append((entry.get("summary"), detail.get("type") or "text/html"))
    if not candidates:
        return "", False
    value, kind = max(candidates, key=lambda c: len(c[0]))
    return value, kind.lower() in _HTML_TYPES


def _entry_link(entry) -> str | None:
    link = safe_url(entry.get("link"), WEB_SCHEMES)
    if link:
        return link
    for candidate in entry.get("links") or []:
        if candidate.get("rel", "alternate") == "alternate":
            link = safe_url(candidate.get("href"), WEB_SCHEMES)
            if link:
                return link
    return None


def _entry_date(entry) -> datetime | None:
    for name in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(name)
        if value:
            try:
                return datetime.fromtimestamp(timegm(value), tz=UTC)
            except (OverflowError, ValueError, TypeError, OSError):
                continue
    return None


def _hash_key(*parts: str) -> str:
    return "sha256:" + hashlib.sha256("\x1f".join(parts).encode("utf-8", "replace")).hexdigest()


def entry_data(entry) -> EntryData:
    raw_body, is_html = _entry_html(entry)
    body_md = html_to_markdown(raw_body) if is_html else text_to_markdown(raw_body)
    if len(body_md) > MAX_BODY_CHARS:
        body_md = body_md[:MAX_BODY_CHARS].rsplit("\n", 1)[0] + "\n\n…"
    link = _entry_link(entry)
    title = plain_title(entry.get("title"))
    empty = not title and not body_md.strip() and not link
    if not title:
        first_words = " ".join(re.sub(r"[\\*_#>`\[\]()]", " ", body_md).split()[:12])
        title = plain_title(first_words) or "Actualité sans titre"
    raw_id = " ".join((entry.get("id") or "").split())
    if raw_id:
        key = raw_id if len(raw_id) <= KEY_MAX else _hash_key(raw_id)
    elif link:
        key = link if len(link) <= KEY_MAX else _hash_key(link)
    else:
        key = _hash_key(entry.get("title") or "", raw_body)
    if link and len(link) > LINK_MAX:
        link = None
    return EntryData(key=key, title=title, body_md=body_md, link=link, published=_entry_date(entry), empty=empty)


# --- Bozo: what went wrong, for people ----------------------------------------------------------

def describe_bozo(exc: BaseException | None, parsed) -> str:
    encoding = parsed.get("encoding") or "?"
    name = type(exc).__name__ if exc else ""
    if name == "CharacterEncodingOverride":
        return (f"Flux mal formé : il annonce un encodage de caractères qui ne correspond pas à son "
                f"contenu ; il a été lu en {encoding}. Vérifiez les accents des contributions importées.")
    if name == "CharacterEncodingUnknown":
        return ("Flux mal formé : son encodage de caractères est inconnu ; des lettres accentuées "
                "peuvent être mal lues.")
    if name == "NonXMLContentType" and exc is not None:
        return (f"Le serveur ne présente pas le flux comme du XML ({_short(exc, 80)}) ; il a été lu "
                "quand même.")
    if isinstance(exc, xml.sax.SAXParseException):
        return (f"Flux mal formé : ce n'est pas du XML valide (ligne {exc.getLineNumber()}, colonne "
                f"{exc.getColumnNumber()} : {exc.getMessage()}). Seuls les articles lisibles ont été "
                "importés ; signalez l'erreur au responsable du site de la structure.")
    return (f"Flux mal formé ({name or 'erreur inconnue'} : {_short(exc) if exc else ''}). Seuls les "
            "articles lisibles ont été importés.")


# --- Polling --------------------------------------------------------------------------------------

@dataclass
class PollResult:
    structure_id: int
    status: str              # ok, not_modified, failed, skipped (no feed URL)
    created: int = 0
    duplicates: int = 0
    empty: int = 0           # entries with nothing to show, not imported
    warning: str | None = None
    error: str | None = None
    titles: list[str] = field(default_factory=list)


def feed_flagged(structure: Structure) -> bool:
    """The feed has failed often enough in a row for the editors to be told."""
    return (structure.feed_failures or 0) >= get_settings().feed_failure_threshold


def due_structure_ids(db: Session, now: datetime | None = None) -> list[int]:
    """Structures with a feed not polled for FEED_POLL_MINUTES (with a little slack, so that a beat
    tick arriving a few seconds early does not skip a whole period)."""
    now = now or utcnow()
    period = timedelta(minutes=get_settings().feed_poll_minutes)
    threshold = now - period + min(period / 10, timedelta(minutes=5))
    query = (select(Structure.id)
             .where(Structure.feed_url.is_not(None), Structure.feed_url != "")
             .where(or_(Structure.feed_checked_at.is_(None), Structure.feed_checked_at <= threshold))
             .order_by(Structure.feed_checked_at.asc().nulls_first(), Structure.id))
    return list(db.scalars(query))


def poll_structure(db: Session, structure_id: int, fetch: Fetch | None = None) -> PollResult:
    """Fetch and ingest one structure's feed. Ends the session's current transaction first (no
    transaction stays open during the download) and commits its own work. Never raises for a
    feed's fault: failures are recorded on the structure."""
    result = _poll(db, structure_id, fetch or http_fetch)
    db.commit()  # a poll owns its transactions (none open during the download): the next one rolls back
    return result


def _poll(db: Session, structure_id: int, fetch: Fetch) -> PollResult:
    structure = db.get(Structure, structure_id)
    url = (structure.feed_url or "").strip() if structure is not None else ""
    if structure is None or not url:
        db.rollback()
        return PollResult(structure_id, "skipped")
    etag, modified = structure.feed_etag, structure.feed_modified
    db.rollback()  # no transaction stays open while the network is slow

    if not safe_url(url, WEB_SCHEMES):
        return _failed(db, structure_id, "L'adresse du flux doit commencer par http:// ou https://.")
    try:
        response = fetch(url, etag, modified)
    except FeedFetchError as exc:
        return _failed(db, structure_id, str(exc))
    if response.status == 304:
        return _succeeded(db, structure_id, response, warning=None, keep_warning=True)
    if response.status != 200:
        return _failed(db, structure_id, _http_error(response.status))

    # No Content-Type at all: read the bytes as XML, by their own declaration or BOM (as a file
    # would be); feedparser would otherwise flag the missing header and guess ISO-8859-1.
    headers = {"content-location": response.url or url,
               "content-type": response.headers.get("content-type") or "application/xml"}
    # A stream, never bytes or str: feedparser would open a str URL, or bytes as a file name.
    parsed = feedparser.parse(io.BytesIO(response.content), response_headers=headers)
    if not parsed.get("version") and not parsed.entries:
        content_type = response.headers.get("content-type", "inconnu").split(";")[0]
        return _failed(db, structure_id, "Le contenu reçu n'est pas un flux RSS ou Atom lisible "
                                         f"(type annoncé : {content_type}).")
    warning = describe_bozo(parsed.get("bozo_exception"), parsed) if parsed.get("bozo") else None
    feed_title = plain_title((parsed.get("feed") or {}).get("title"))
    return _ingest(db, structure_id, url, feed_title, parsed.entries, response, warning)


def _http_error(status: int) -> str:
    if status == 404 or status == 410:
        return f"Le flux est introuvable à cette adresse (erreur HTTP {status}) ; vérifiez l'adresse."
    if status in (401, 403):
        return f"Le site refuse l'accès au flux (erreur HTTP {status})."
    if status == 429:
        return "Le site demande de l'interroger moins souvent (erreur HTTP 429)."
    if status >= 500:
        return f"Le site de la structure est en panne (erreur HTTP {status})."
    return f"Réponse inattendue du site (HTTP {status})."


def _ingest(db: Session, structure_id: int, url: str, feed_title: str, entries, response: FetchResponse,
            warning: str | None) -> PollResult:
    result = PollResult(structure_id, "ok", warning=warning)
    items: list[EntryData] = []
    seen_keys: set[str] = set()
    seen_links: set[str] = set()
    for entry in list(entries)[:MAX_ENTRIES_PER_POLL]:
        try:
            data = entry_data(entry)
        except Exception:  # noqa: BLE001  one strange entry must not lose the others
            log.exception("feed entry of structure %s could not be read", structure_id)
            continue
        if data.empty:
            result.empty += 1
            continue
        if data.key in seen_keys or (data.link and data.link in seen_links):
            result.duplicates += 1
            continue
        seen_keys.add(data.key)
        if data.link:
            seen_links.add(data.link)
        items.append(data)

    known_keys = set(db.scalars(select(Contribution.feed_entry_id).where(
        Contribution.structure_id == structure_id, Contribution.feed_entry_id.in_(seen_keys)))) if seen_keys else set()
    known_links = set(db.scalars(select(Contribution.link).where(
        Contribution.structure_id == structure_id, Contribution.source == SOURCE,
        Contribution.link.in_(seen_links)))) if seen_links else set()

    origin = f"« {feed_title} » ({url})" if feed_title else url
    now = utcnow()
    for data in reversed(items):  # oldest first: the queue shows what waits longest first
        if data.key in known_keys or (data.link and data.link in known_links):
            result.duplicates += 1
            continue
        comment = f"Importée du flux {origin}"
        if data.published:
            comment += f" ; publiée sur le site le {long_date(data.published)}"
        contribution = Contribution(
            structure_id=structure_id, author_id=None, kind=ContributionKind.actualite,
            status=ContributionStatus.submitted, title=data.title, body_md=data.body_md,
            link=data.link, source=SOURCE, feed_entry_id=data.key, submitted_at=now)
        try:
            # A savepoint per entry: a concurrent poll that stored it first only skips this one.
            with db.begin_nested():
                db.add(contribution)
                db.flush()
                db.add(ContributionTransition(contribution_id=contribution.id, from_status=None,
                                              to_status=ContributionStatus.submitted.value,
                                              actor_id=None, comment=comment + "."))
                db.flush()
        except IntegrityError:
            result.duplicates += 1
            continue
        result.created += 1
        result.titles.append(data.title)
    _record_success(db, structure_id, response, warning, keep_warning=False)
    if result.created:
        log.info("feed of structure %s: new contributions: %s", structure_id, result.created)
    return result


def _record_success(db: Session, structure_id: int, response: FetchResponse, warning: str | None,
                    keep_warning: bool) -> None:
    structure = db.get(Structure, structure_id)
    if structure is None:  # deleted while its feed was being read
        return
    now = utcnow()
    structure.feed_checked_at = now
    structure.feed_ok_at = now
    structure.feed_failures = 0
    structure.feed_error = None
    if not keep_warning:
        structure.feed_warning = warning
    if response.status == 200:
        # The validators of this answer; a server that stopped sending them gets plain GETs.
        structure.feed_etag = (response.headers.get("etag") or "")[:300] or None
        structure.feed_modified = (response.headers.get("last-modified") or "")[:100] or None


def _succeeded(db: Session, structure_id: int, response: FetchResponse, warning: str | None,
               keep_warning: bool) -> PollResult:
    if db.get(Structure, structure_id) is None:
        db.rollback()
        return PollResult(structure_id, "skipped")
    _record_success(db, structure_id, response, warning, keep_warning)
    return PollResult(structure_id, "not_modified" if response.status == 304 else "ok")


def _failed(db: Session, structure_id: int, error: str) -> PollResult:
    structure = db.get(Structure, structure_id)
    if structure is None:
        db.rollback()
        return PollResult(structure_id, "skipped")
    structure.feed_failures = (structure.feed_failures or 0) + 1
    structure.feed_error = error
    structure.feed_checked_at = utcnow()
    if structure.feed_failures == get_settings().feed_failure_threshold:
        _tell_editors(db, structure)
    log.warning("feed of structure %s failed (%s in a row): %s", structure_id, structure.feed_failures, error)
    return PollResult(structure_id, "failed", error=error)


def _tell_editors(db: Session, structure: Structure) -> None:
    editors = db.scalars(select(User).where(User.role.in_([Role.editor, Role.admin]), User.active)
                         .order_by(User.id)).all()
    for editor in editors:
        queue_email(db, "feed_failing", editor.email, {
            "structure": structure, "error": structure.feed_error, "failures": structure.feed_failures,
            "url": urls.absolute(f"/redaction/structures/{structure.id}")})


def poll_all(db: Session, fetch: Fetch | None = None, *, only_due: bool = True) -> list[PollResult]:
    """Poll every structure with a feed (only those due, by default), each in its own transaction.
    An unexpected error on one is logged and recorded, and the next one is polled."""
    if only_due:
        ids = due_structure_ids(db)
    else:
        ids = list(db.scalars(select(Structure.id).where(Structure.feed_url.is_not(None),
                                                         Structure.feed_url != "").order_by(Structure.id)))
    db.rollback()
    results = []
    for structure_id in ids:
        try:
            results.append(poll_structure(db, structure_id, fetch))
        except Exception as exc:  # noqa: BLE001  one broken feed never blocks the others
            db.rollback()
            log.exception("feed of structure %s: unexpected error", structure_id)
            results.append(_failed(db, structure_id,
                                   f"Erreur interne pendant la lecture du flux ({type(exc).__name__})."))
            db.commit()  # recorded in its own transaction, as a poll's outcome is: the next poll rolls back
    return results


def request_poll(db: Session, structure_id: int) -> None:
    """Ask a worker to poll this structure's feed now (after COMMIT)."""
    jobs.enqueue(db, "tasks.feeds.poll_structure", structure_id)


def request_due_polls(db: Session) -> int:
    """Ask a worker to poll each feed that is due, one job per structure (after COMMIT), so that
    one slow feed never holds up the others. Returns how many."""
    due = due_structure_ids(db)
    for structure_id in due:
        request_poll(db, structure_id)
    return len(due)
