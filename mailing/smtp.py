"""The SMTP session: the only code that opens a connection to a mail server."""
from __future__ import annotations

import contextlib
import smtplib
import socket
import ssl
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from core.settings import InvalidSetting, get_settings, mask_url
from mailing.dkim import signer_from_settings

SMTP_DEFAULT_PORTS = {"smtp": 25, "smtp+starttls": 587, "smtps": 465}


class SMTPAddress(NamedTuple):
    scheme: str
    host: str
    port: int
    username: str | None
    password: str | None


def parse_smtp_url(url: str, variable: str = "SMTP_URL") -> SMTPAddress:
    """smtp://host:port (plain), smtp+starttls://user:pass@host:587, smtps://user:pass@host:465;
    the host defaults to 127.0.0.1. Raises InvalidSetting naming `variable`."""
    expected_fr = "smtp://hôte:port, smtp+starttls://utilisateur:motdepasse@hôte:587 ou smtps://utilisateur:motdepasse@hôte:465"
    expected_en = "smtp://host:port, smtp+starttls://user:password@host:587 or smtps://user:password@host:465"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise InvalidSetting(variable, f"{variable} : adresse illisible « {mask_url(url)} » (port invalide ?).",
                             f"{variable}: unreadable URL '{mask_url(url)}' (bad port?).") from None
    if parts.scheme not in SMTP_DEFAULT_PORTS:
        raise InvalidSetting(
            variable, f"{variable} : schéma inconnu {parts.scheme!r} dans « {mask_url(url)} » (attendu {expected_fr}).",
            f"{variable}: unknown scheme {parts.scheme!r} in '{mask_url(url)}' (expected {expected_en}).")
    return SMTPAddress(parts.scheme, parts.hostname or "127.0.0.1", port or SMTP_DEFAULT_PORTS[parts.scheme],
                       unquote(parts.username) if parts.username else None,
                       unquote(parts.password) if parts.password else None)


class SMTPConnection:
    """One SMTP session, reused for many messages. `SMTP_URL` forms: see `parse_smtp_url`."""

    def __init__(self, url: str | None = None, timeout: float = 30.0):
        settings = get_settings()
        address = parse_smtp_url(url or settings.smtp_url)
        self.scheme = address.scheme
        self.host = address.host
        self.port = address.port
        self.username = address.username
        self.password = address.password
        self.timeout = timeout
        self.client: smtplib.SMTP | None = None
        # Optional DKIM (DKIM_DOMAIN, DKIM_SELECTOR, DKIM_PRIVATE_KEY), checked at start.
        self.signer = signer_from_settings(settings)

    def open(self) -> smtplib.SMTP:
        client: smtplib.SMTP
        if self.scheme == "smtps":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.scheme == "smtp+starttls":
                client.starttls(context=ssl.create_default_context())
        if client.sock is not None:
            # Each message ends with a write then a read (its final reply): without this, Nagle's
            # algorithm may hold that last segment until the previous one is acknowledged.
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.username:
            client.login(self.username, self.password or "")
        self.client = client
        return client

    def send(self, envelope_from: str, recipient: str, message: bytes) -> None:
        """Send one message; raises smtplib's exceptions (the caller decides what they mean)."""
        client = self.client if self.client is not None else self.open()
        if self.signer is not None:
            message = self.signer.sign(message)
        if message.startswith(b".") or b"\n." in message:
            # Lines starting with a dot: let smtplib dot-stuff them (RFC 5321 §4.5.2).
            client.sendmail(envelope_from, [recipient], message)
            return
        self._send_unstuffed(client, envelope_from, recipient, message)

    def _send_unstuffed(self, client: smtplib.SMTP, envelope_from: str, recipient: str, message: bytes) -> None:
        """smtplib.sendmail without its per-message regex passes (dot-stuffing, line endings),
        for messages that need none: the letter's MIME writes CRLF and =2E for a leading dot.
        Same commands, same replies, same exceptions."""
        client.ehlo_or_helo_if_needed()
        if client.has_extn("pipelining"):
            return self._send_pipelined(client, envelope_from, recipient, message)
        code, reply = client.mail(envelope_from)
        if code != 250:
            _reset(client, quiet=code == 421)
            raise smtplib.SMTPSenderRefused(code, reply, envelope_from)
        code, reply = client.rcpt(recipient)
        if code not in (250, 251):
            _reset(client, quiet=code == 421)
            raise smtplib.SMTPRecipientsRefused({recipient: (code, reply)})
        client.putcmd("data")
        code, reply = client.getreply()
        if code != 354:
            _reset(client, quiet=True)
            raise smtplib.SMTPDataError(code, reply)
        client.send(_with_end_of_data(message))
        code, reply = client.getreply()
        if code != 250:
            _reset(client, quiet=code == 421)
            raise smtplib.SMTPDataError(code, reply)

    def _send_pipelined(self, client: smtplib.SMTP, envelope_from: str, recipient: str, message: bytes) -> None:
        """RFC 2920: MAIL, RCPT and DATA in one write, their three replies read after; two round
        trips per message instead of four."""
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
        client.send(_with_end_of_data(message))
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


def _with_end_of_data(message: bytes) -> bytes:
    """The message and the end of its data (CRLF . CRLF), written at once: one segment train
    and one system call instead of two."""
    return message + (b".\r\n" if message.endswith(b"\r\n") else b"\r\n.\r\n")


def _reset(client: smtplib.SMTP, quiet: bool) -> None:
    """RSET after a refusal, as smtplib.sendmail does. `quiet` (after a 421, or an unexpected reply
    to DATA): the server may be gone already, which the next command will tell (smtplib's _rset)."""
    if quiet:
        with contextlib.suppress(smtplib.SMTPServerDisconnected):
            client.rset()
    else:
        client.rset()
