"""E-mail: named templates, MIME building, the SMTP connection and the outbox.

An e-mail is a folder `templates/email/<name>/` holding `subject.txt`, `body.mjml` and
`body.txt` (Warehouse's habit): adding an e-mail means adding a folder. MJML is compiled with
mjml-python; the text part comes from `body.txt`, or from the HTML through inscriptis when there is
no `body.txt`. Every message, transactional or the letter itself, leaves through `SMTPConnection`.
"""
from __future__ import annotations

import json
import logging
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import unquote, urlsplit

import jinja2
from inscriptis import get_text
from mjml import mjml2html
from sqlalchemy.orm import Session

from newsletter import jobs
from newsletter.dkim import signer_from_env
from newsletter.db import utcnow
from newsletter.models import OutboundEmail, OutboundStatus
from newsletter.settings import get_settings
from newsletter.text import markdown_to_text, plain_text, render_markdown, safe_url

log = logging.getLogger(__name__)

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
EMAIL_DIR = TEMPLATES_DIR / "email"


class MJMLError(ValueError):
    """The MJML of an e-mail template did not compile; the message names the template."""


@lru_cache(maxsize=1)
def email_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(EMAIL_DIR)),
        autoescape=jinja2.select_autoescape(enabled_extensions=("mjml", "html")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = render_markdown
    env.filters["markdown_text"] = markdown_to_text
    env.filters["plain"] = plain_text
    env.filters["safe_url"] = safe_url
    from newsletter.formatting import install_filters
    install_filters(env)
    return env


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str


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


def compile_mjml(source: str, template_name: str = "?") -> str:
    try:
        return mjml2html(source, disable_comments=True)
    except Exception as exc:  # mjml-python raises a bare exception type from Rust
        raise MJMLError(f"MJML invalide dans {template_name} : {exc}") from exc


def render_email(name: str, context: dict) -> RenderedEmail:
    """Render the e-mail `name` with `context` into a subject, an HTML and a text part."""
    env = email_environment()
    ctx = {"settings": get_settings(), **context}
    subject = " ".join(env.get_template(f"{name}/subject.txt").render(ctx).split())
    html = compile_mjml(env.get_template(f"{name}/body.mjml").render(ctx), f"{name}/body.mjml")
    if (EMAIL_DIR / name / "body.txt").exists():
        text = env.get_template(f"{name}/body.txt").render(ctx)
    else:
        text = get_text(html)
    return RenderedEmail(subject=subject, html=html, text=text.strip() + "\n")


def new_message_id(local_hint: str = "") -> str:
    hint = f"{local_hint}." if local_hint else ""
    return f"<{hint}{secrets.token_hex(8)}@{get_settings().mail_domain}>"


def build_message(*, to: str, subject: str, text: str, html: str | None, message_id: str,
                  headers: dict[str, str] | None = None, sender: str | None = None,
                  attachments: list[Attachment] | None = None) -> bytes:
    """A UTF-8 multipart/alternative message (text first, then HTML), as bytes for SMTP; with
    attachments, a multipart/mixed holding that alternative then each attachment."""
    settings = get_settings()
    msg = EmailMessage(policy=SMTP_POLICY)
    name, addr = parseaddr(sender or settings.mail_from)
    msg["From"] = Address(display_name=name, addr_spec=addr)
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False, usegmt=True)
    msg["Message-ID"] = message_id
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    if html is not None:
        msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    for attachment in attachments or ():
        maintype, _, subtype = attachment.content_type.partition("/")
        assert maintype == "text", "only text attachments are supported"
        msg.add_attachment(attachment.content, subtype=subtype, charset="utf-8", cte="base64",
                           filename=attachment.filename, params=attachment.params or {})
    return msg.as_bytes()


class SMTPConnection:
    """One SMTP session, reused for many messages. `SMTP_URL` forms:
    smtp://host:port (plain), smtp+starttls://user:pass@host:587, smtps://user:pass@host:465."""

    def __init__(self, url: str | None = None, timeout: float = 30.0):
        parts = urlsplit(url or get_settings().smtp_url)
        if parts.scheme not in ("smtp", "smtp+starttls", "smtps"):
            raise ValueError(f"SMTP_URL: schéma inconnu {parts.scheme!r}")
        self.scheme = parts.scheme
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or {"smtp": 25, "smtp+starttls": 587, "smtps": 465}[parts.scheme]
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.timeout = timeout
        self.client: smtplib.SMTP | None = None
        # Optional DKIM (DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY); a bad key fails here, early.
        self.signer = signer_from_env()

    def open(self) -> None:
        if self.scheme == "smtps":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
        if self.username:
            client.login(self.username, self.password or "")
        self.client = client

    def send(self, envelope_from: str, recipient: str, message: bytes) -> None:
        """Send one message; raises smtplib's exceptions (the caller decides what they mean)."""
        if self.client is None:
            self.open()
        if self.signer is not None:
            message = self.signer.sign(message)
        if message.startswith(b".") or b"\n." in message:
            # Lines starting with a dot: let smtplib dot-stuff them (RFC 5321 §4.5.2).
            self.client.sendmail(envelope_from, [recipient], message)
            return
        self._send_unstuffed(envelope_from, recipient, message)

    def _send_unstuffed(self, envelope_from: str, recipient: str, message: bytes) -> None:
        """smtplib.sendmail without its per-message regex passes (dot-stuffing, line endings),
        for messages that need none: the letter's MIME writes CRLF and =2E for a leading dot.
        Same commands, same replies, same exceptions."""
        client = self.client
        client.ehlo_or_helo_if_needed()
        if client.has_extn("pipelining"):
            return self._send_pipelined(envelope_from, recipient, message)
        code, reply = client.mail(envelope_from)
        if code != 250:
            client._rset() if code == 421 else client.rset()
            raise smtplib.SMTPSenderRefused(code, reply, envelope_from)
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            client._rset() if code == 421 else client.rset()
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        client.putcmd("data")
        code, reply = client.getreply()
        if code != 354:
            client._rset()
            raise smtplib.SMTPDataError(code, reply)
        client.send(message if message.endswith(b"\r\n") else message + b"\r\n")
        client.send(b".\r\n")
        code, reply = client.getreply()
        if code != 250:
            client._rset() if code == 421 else client.rset()
            raise smtplib.SMTPDataError(code, reply)

    def _send_pipelined(self, envelope_from: str, recipient: str, message: bytes) -> None:
        """RFC 2920: MAIL, RCPT and DATA in one write, their three replies read after; two round
        trips per message instead of four."""
        client = self.client
        client.send(f"MAIL FROM:{smtplib.quoteaddr(envelope_from)}\r\n"
                    f"RCPT TO:{smtplib.quoteaddr(recipient)}\r\nDATA\r\n".encode("ascii"))
        mail_reply, rcpt_reply, data_reply = client.getreply(), client.getreply(), client.getreply()
        if data_reply[0] == 354 and (mail_reply[0] != 250 or rcpt_reply[0] not in (250, 251)):
            # The server accepted DATA although a command failed: end it empty, then report.
            client.send(b".\r\n")
            client.getreply()
        if mail_reply[0] != 250:
            client.rset()
            raise smtplib.SMTPSenderRefused(mail_reply[0], mail_reply[1], envelope_from)
        if rcpt_reply[0] not in (250, 251):
            client.rset()
            raise smtplib.SMTPRecipientsRefused({recipient: rcpt_reply})
        if data_reply[0] != 354:
            client.rset()
            raise smtplib.SMTPDataError(*data_reply)
        client.send(message if message.endswith(b"\r\n") else message + b"\r\n")
        client.send(b".\r\n")
        code, reply = client.getreply()
        if code != 250:
            client.rset()
            raise smtplib.SMTPDataError(code, reply)

    def reconnect(self) -> None:
        self.close()
        self.open()

    def close(self) -> None:
        if self.client is not None:
            try:
                self.client.quit()
            except (smtplib.SMTPException, OSError):
                self.client.close()
            self.client = None

    def __enter__(self) -> SMTPConnection:
        self.open()
        return self

    def __exit__(self, *exc) -> None:
        self.close()


# --- The outbox: single transactional e-mails, durable until sent -------------------------------

OUTBOX_MAX_ATTEMPTS = 5


def outbound_extras(outbound: OutboundEmail) -> tuple[dict[str, str], list[Attachment]]:
    """The extra headers and the attachments kept with an outbox e-mail."""
    headers = json.loads(outbound.extra_headers) if outbound.extra_headers else {}
    return headers, [Attachment.from_json(a) for a in outbound.attachments or ()]


def queue_email(db: Session, name: str, to: str, context: dict, *,
                headers: dict[str, str] | None = None, subject_prefix: str = "",
                attachments: list[Attachment] | None = None) -> OutboundEmail:
    """Render the e-mail now and keep it in the outbox; a worker sends it after COMMIT."""
    rendered = render_email(name, context)
    return queue_rendered(db, name, to, rendered, headers=headers, subject_prefix=subject_prefix,
                          attachments=attachments)


def queue_rendered(db: Session, name: str, to: str, rendered: RenderedEmail, *,
                   headers: dict[str, str] | None = None, subject_prefix: str = "",
                   attachments: list[Attachment] | None = None) -> OutboundEmail:
    outbound = OutboundEmail(
        template=name, to_addr=to, subject=subject_prefix + rendered.subject,
        text_body=rendered.text, html_body=rendered.html,
        extra_headers=json.dumps(headers) if headers else None,
        attachments=[a.to_json() for a in attachments] if attachments else None)
    db.add(outbound)
    db.flush()
    jobs.enqueue(db, "tasks.mail.send_outbound", outbound.id)
    return outbound


def send_outbound(db: Session, outbound_id: int, connection: SMTPConnection | None = None) -> OutboundStatus:
    """Send one outbox e-mail and record the outcome. Temporary failures raise, so that the task
    retries; a permanent refusal is recorded as failed and not retried."""
    outbound = db.get(OutboundEmail, outbound_id, with_for_update=not get_settings().is_sqlite)
    if outbound is None or outbound.status is not OutboundStatus.queued:
        return outbound.status if outbound else OutboundStatus.failed
    outbound.message_id = outbound.message_id or new_message_id(f"o{outbound.id}")
    headers, attachments = outbound_extras(outbound)
    message = build_message(
        to=outbound.to_addr, subject=outbound.subject, text=outbound.text_body,
        html=outbound.html_body, message_id=outbound.message_id,
        headers=headers or None, attachments=attachments)
    outbound.attempts += 1
    own_connection = connection is None
    connection = connection or SMTPConnection()
    try:
        connection.send(get_settings().mail_from_address, outbound.to_addr, message)
    except smtplib.SMTPRecipientsRefused as exc:
        code, reply = next(iter(exc.recipients.values()))
        return _outbound_refused(db, outbound, code, reply)
    except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
        return _outbound_refused(db, outbound, exc.smtp_code, exc.smtp_error)
    except (smtplib.SMTPException, OSError) as exc:
        outbound.last_error = f"{type(exc).__name__}: {exc}"
        if outbound.attempts >= OUTBOX_MAX_ATTEMPTS:
            outbound.status = OutboundStatus.failed
        db.commit()
        if outbound.status is OutboundStatus.failed:
            return outbound.status
        raise
    finally:
        if own_connection:
            connection.close()
    outbound.status = OutboundStatus.sent
    outbound.sent_at = utcnow()
    outbound.last_error = None
    db.commit()
    return outbound.status


def _outbound_refused(db: Session, outbound: OutboundEmail, code: int, reply: bytes | str) -> OutboundStatus:
    reply_text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    outbound.last_error = f"{code} {reply_text}"
    if 400 <= code < 500 and outbound.attempts < OUTBOX_MAX_ATTEMPTS:
        db.commit()
        raise TemporarySMTPError(code, reply_text)
    outbound.status = OutboundStatus.failed
    db.commit()
    log.warning("outbound %s to %s refused: %s %s", outbound.id, outbound.to_addr, code, reply_text)
    return outbound.status


class TemporarySMTPError(Exception):
    def __init__(self, code: int, reply: str):
        super().__init__(f"{code} {reply}")
        self.code = code
        self.reply = reply
