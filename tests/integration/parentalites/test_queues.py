"""Polling can never starve sending (issue 13, item 17): with the workers started as compose and
the demo start them (`--queues send` and `--queues poll,housekeeping`), bounce polls stuck on an
IMAP server that never answers leave the sending worker free; each stuck poll ends by its timeout.

The workers of this test use a queue base of their own, so that the run's shared worker never
takes their tasks (and is never held by a stuck poll)."""
from __future__ import annotations

import os
import socket
import threading
import time

from sqlalchemy import select

from mailing.models import OutboundEmail, OutboundStatus
from mailing.outbox import queue_email
from tests.integration.helpers import wait_for
from tests.stack import WorkerProcess


class SilentServer:
    """Accepts connections and never says a word (an IMAP server that hangs)."""

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def port(self) -> int:
        return self.socket.getsockname()[1]

    def _accept(self):
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self):
        for connection in self.accepted:
            connection.close()
        self.socket.close()


def test_stuck_bounce_polls_never_hold_up_sending(db, smtp, captured_jobs, monkeypatch, reread_settings):
    from parentalites.celery_app import make_celery
    silent = SilentServer()
    base = f"{os.environ.get('CELERY_QUEUE', 'parentalites')}-starve"
    monkeypatch.setenv("CELERY_QUEUE", base)
    monkeypatch.setenv("BOUNCE_IMAP_URL", f"imap://retours:secret@127.0.0.1:{silent.port}/INBOX")
    monkeypatch.setenv("BOUNCE_IMAP_ALLOW_PLAINTEXT", "1")
    monkeypatch.setenv("BOUNCE_IMAP_TIMEOUT", "20")
    monkeypatch.delenv("BOUNCE_MAILDIR", raising=False)
    reread_settings()
    app = make_celery()
    sender = WorkerProcess("starve-send", concurrency=1, queues="send")
    poller = WorkerProcess("starve-poll", concurrency=1, queues="poll,housekeeping")
    try:
        sender.start()
        poller.start()
        for _ in range(3):
            app.send_task("tasks.bounces.poll")
        wait_for(lambda: silent.accepted, 30, message="a poll to be stuck on the silent server")

        outbound = queue_email(db, "bounce_mailbox_failing", "urgent@exemple.test",
                               {"source": "imap", "detail": "essai", "url": "http://x.test/"})
        db.commit()
        started = time.monotonic()
        app.send_task("tasks.mail.send_outbound", args=[outbound.id])
        wait_for(lambda: smtp.to("urgent@exemple.test"), 15, message="the e-mail to leave while polls hang")
        assert time.monotonic() - started < 15
        db.expire_all()
        assert db.scalar(select(OutboundEmail.status).where(OutboundEmail.id == outbound.id)) is OutboundStatus.sent
        assert len(silent.accepted) == 1  # one poll at a time on its own worker; the others wait there

        # The stuck poll ends by its timeout and the next one starts: nothing holds a slot forever.
        wait_for(lambda: len(silent.accepted) >= 2, 40, message="the first poll to end by its timeout")
        assert b"Task tasks.bounces.poll[" not in sender.log_path.read_bytes()
        assert b"MailboxUnavailable('imap: timeout')" in poller.log_path.read_bytes()
    finally:
        silent.close()
        poller.stop()
        sender.stop()
