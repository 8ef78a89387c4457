"""The local SMTP catcher of the demo and of development: an aiosmtpd server that keeps every
message it receives in a Maildir (var/mail/), with the envelope recipient in `X-Envelope-To`."""
from __future__ import annotations

import email
import email.policy
import io
import mailbox
import socket
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller


class MaildirHandler:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)  # Maildir makes cur/new/tmp only for a new folder
        self.maildir = mailbox.Maildir(str(path), create=True)

    async def handle_DATA(self, server, session, envelope):
        envelope_lines = (f"X-Envelope-From: {envelope.mail_from}\r\n"
                          f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n").encode()
        self.maildir.add(envelope_lines + envelope.original_content)
        return "250 Message accepted for delivery"


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def start_catcher(maildir: Path, port: int, host: str = "127.0.0.1") -> Controller:
    controller = Controller(MaildirHandler(maildir), hostname=host, port=port)
    controller.start()
    return controller


def read_maildir(path: Path) -> list[EmailMessage]:
    """Every message in the Maildir, parsed with the modern policy (headers decoded)."""
    if not (path / "cur").exists():
        return []
    box = mailbox.Maildir(str(path), create=False)
    messages = []
    # What iterating the box with a parsing factory does (typeshed's Maildir makes MaildirMessage only).
    for key in box.iterkeys():
        try:
            raw = box.get_bytes(key)
        except KeyError:  # gone since the listing
            continue
        messages.append(email.message_from_binary_file(io.BytesIO(raw), policy=email.policy.default))
    return messages
