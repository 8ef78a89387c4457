"""A letter's MIME bytes, encoded once per issue; per recipient only the personal lines.

Building and quoted-printable-encoding a whole message per recipient with `email.message` costs
about 15 ms for a 140 KB letter, several times the SMTP transfer. Quoted-printable works line by
line (RFC 2045 §6.7: soft breaks never cross a hard line break), so the lines of the text and HTML
parts that hold no personal slot are encoded once; per recipient we encode the few lines that
hold a slot, and join bytes. `tests/test_mime.py` checks every message against the standard
library's own building and parsing.
"""
from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from email import quoprimime
from email.errors import HeaderParseError
from email.header import decode_header
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import format_datetime, formataddr, parseaddr

from core import site_settings
from core.settings import get_settings

SLOT_RE = re.compile(r"%%(\w+)%%")
CRLF = b"\r\n"


_LEADING_DOT = re.compile(rb"^\.", re.MULTILINE)


def _qp(text: str) -> bytes:
    """Quoted-printable as email.charset does it for utf-8 (bytes seen as latin-1), with a dot that
    starts a line written =2E: the message then needs no SMTP dot-stuffing (RFC 5321 §4.5.2)."""
    encoded = quoprimime.body_encode(text.encode("utf-8").decode("latin-1"), maxlinelen=76, eol="\r\n")
    return _LEADING_DOT.sub(b"=2E", encoded.encode("ascii"))


SOFT_BREAK = b"=\r\n"


class _Slot(str):
    """The name of a slot, in a part's chunks."""


class _EncodedPart:
    """A text part encoded once, as chunks: bytes ready to send, or slots to encode per recipient.

    A line without slots is encoded whole. A line with slots (MJML writes whole sections on one
    line) is cut at the slots with soft line breaks, which decoders remove: the literal pieces are
    encoded once, and only the slot values are encoded per recipient."""

    def __init__(self, source: str):
        self.chunks: list[bytes | _Slot] = []
        pending = bytearray()
        for index, line in enumerate(source.replace("\r\n", "\n").split("\n")):
            if index:
                pending += CRLF
            if not SLOT_RE.search(line):
                pending += _qp(line)
                continue
            first = True
            for position, piece in enumerate(SLOT_RE.split(line)):
                is_slot = position % 2 == 1
                if not is_slot and not piece:
                    continue
                if not first:
                    pending += SOFT_BREAK
                first = False
                if is_slot:
                    self.chunks.append(bytes(pending))
                    pending.clear()
                    self.chunks.append(_Slot(piece))
                else:
                    pending += _qp(piece)
        self.chunks.append(bytes(pending))

    def render(self, values: dict[str, str]) -> bytes:
        return b"".join(chunk if isinstance(chunk, bytes) else _qp(values[chunk]) for chunk in self.chunks)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?]*\?=")


def _decode_word(match: re.Match) -> str:
    try:
        return "".join(part.decode(charset or "ascii", "replace") if isinstance(part, bytes) else part
                       for part, charset in decode_header(match.group(0)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return " "


def _decoded(value: str) -> str:
    return _ENCODED_WORD.sub(_decode_word, value)


def header_value(value: str) -> str:
    """Every header's value goes through here. The standard library decodes RFC 2047 encoded words
    when a header is set (`=?utf-8?q?=0D=0AReply-To:…?=` would become a line break, a new header
    and even a body), so encoded words are decoded first — again while decoding changes anything,
    for words encoded twice — and then every control character and line break becomes a space.
    What is left holds no "=?" (written "= ?"): the header is encoded anew, whole, when it is written."""
    text = str(value)
    for _ in range(5):
        decoded = _CONTROL.sub(" ", _decoded(text)) if "=?" in text else _CONTROL.sub(" ", text)
        if decoded == text:
            break
        text = decoded
    text = text.replace("=?", "= ?")  # no encoded word left for the standard library to decode
    return " ".join(text.split())


def _raw_header(value: str) -> str:
    """A header written as is, already encoded (the recipient by `format_recipient`, a URL): no
    decoding, only the controls out, so that nothing can start a new line."""
    return " ".join(_CONTROL.sub(" ", value).split())


_ADDRESS_HEADERS = frozenset({"from", "to", "cc", "reply-to", "sender"})


def set_headers(msg: EmailMessage, headers: list[tuple[str, str]]) -> None:
    """Set each header through `header_value`; an address header (already built by
    `format_recipient` or a bare address) only loses its controls: decoding its encoded display
    name would let a comma in it split the address."""
    for name, value in headers:
        name = header_value(name).replace(" ", "-").replace(":", "")
        msg[name] = _raw_header(value) if name.lower() in _ADDRESS_HEADERS else header_value(value)


def _header_block(headers: list[tuple[str, str]]) -> bytes:
    """Headers cleaned by `header_value`, encoded and folded by the standard library's SMTP policy."""
    msg = EmailMessage(policy=SMTP_POLICY)
    set_headers(msg, headers)
    return msg.as_bytes().split(b"\r\n\r\n", 1)[0] + CRLF


def date_header(when: datetime | None = None) -> str:
    """A Date: value with a numeric zone, « Wed, 02 Dec 2026 03:00:00 +0000 » (RFC 5322 §3.3;
    « GMT » is obsolete syntax, « -0000 » says the zone is unknown)."""
    return format_datetime((when or datetime.now(UTC)).astimezone(UTC))


def format_recipient(name: str, address: str) -> str:
    """`Name <address>`, encoded when needed; control characters and encoded words (a CRLF smuggled
    into a name would start a new header) are cleaned by `header_value`."""
    name = header_value(name or "")
    if not name:
        return address
    return formataddr((name, address), charset="utf-8")


class LetterMIME:
    """multipart/alternative (text, then HTML), UTF-8, quoted-printable: the same structure as
    `mailing.outbox.build_message`, prepared once for an issue."""

    def __init__(self, *, sender: str, subject: str, text: str, html: str,
                 static_headers: dict[str, str]):
        name, _, addr = sender.rpartition("<")
        display = name.strip().strip('"')
        address = addr.rstrip(">") if addr else sender
        self.head = _header_block([("From", str(Address(display_name=display, addr_spec=address))),
                                   ("Subject", subject), *static_headers.items()])
        self.boundary = "=_lettre_" + secrets.token_hex(12)  # "=_" never occurs in QP output
        b = self.boundary.encode()
        self.text = _EncodedPart(text)
        self.html = _EncodedPart(html)
        self.part_text = (b"--" + b + CRLF + b'Content-Type: text/plain; charset="utf-8"' + CRLF
                          + b"Content-Transfer-Encoding: quoted-printable" + CRLF + CRLF)
        self.part_html = (CRLF + b"--" + b + CRLF + b'Content-Type: text/html; charset="utf-8"' + CRLF
                          + b"Content-Transfer-Encoding: quoted-printable" + CRLF + CRLF)
        self.tail = CRLF + b"--" + b + b"--" + CRLF
        self.mime_head = (b"MIME-Version: 1.0" + CRLF + b'Content-Type: multipart/alternative; boundary="'
                          + b + b'"' + CRLF + CRLF)

    def render(self, *, to: str, message_id: str, personal_headers: dict[str, str],
               text_values: dict[str, str], html_values: dict[str, str], date: str | None = None) -> bytes:
        personal = [("To", to), ("Date", date or date_header()), ("Message-ID", message_id),
                    *personal_headers.items()]
        return b"".join((
            self.head, "\r\n".join(f"{k}: {_raw_header(v)}" for k, v in personal).encode("utf-8"), CRLF,
            self.mime_head,
            self.part_text, self.text.render(text_values),
            self.part_html, self.html.render(html_values), self.tail,
        ))


# --- Single messages (the outbox) ----------------------------------------------------------------

@dataclass(frozen=True)
class Attachment:
    """A text file attached to an e-mail, e.g. an iCalendar invitation:
    Attachment("invitation.ics", "text/calendar", ics, {"method": "REQUEST"})."""
    filename: str
    content_type: str  # "maintype/subtype"
    content: str
    params: dict[str, str] | None = None

    def to_json(self) -> dict:
        return {"filename": self.filename, "content_type": self.content_type,
                "content": self.content, "params": self.params or {}}

    @classmethod
    def from_json(cls, data: dict) -> Attachment:
        return cls(data["filename"], data["content_type"], data["content"], data.get("params") or None)


def new_message_id(local_hint: str = "") -> str:
    hint = f"{local_hint}." if local_hint else ""
    return f"<{hint}{secrets.token_hex(8)}@{get_settings().mail_domain}>"


def build_message(*, to: str, subject: str, text: str, html: str | None, message_id: str,
                  headers: dict[str, str] | None = None, sender: str | None = None,
                  attachments: list[Attachment] | None = None) -> bytes:
    """A UTF-8 multipart/alternative message (text first, then HTML), as bytes for SMTP; with
    attachments, a multipart/mixed holding that alternative then each attachment."""
    site = site_settings.current()
    msg = EmailMessage(policy=SMTP_POLICY)
    name, addr = parseaddr(sender or site.mail_from)
    if site.reply_to and not any(key.lower() == "reply-to" for key in (headers or {})):
        headers = {"Reply-To": site.reply_to, **(headers or {})}
    msg["From"] = Address(display_name=header_value(name), addr_spec=addr)
    set_headers(msg, [("To", to), ("Subject", subject), ("Date", date_header()),
                      ("Message-ID", message_id), # RFC 3834: no auto-reply to these.
                      *{"Auto-Submitted": "auto-generated", **(headers or {})}.items()])
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in attachments or ():
        maintype, _, subtype = attachment.content_type.partition("/")
        assert maintype == "text", "only text attachments are supported"
        msg.add_attachment(attachment.content, subtype=subtype, charset="utf-8", cte="base64",
                           filename=attachment.filename, params=attachment.params or {})
    return msg.as_bytes()
