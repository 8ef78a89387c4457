"""The real stack, for the integration and browser tiers: the run's PostgreSQL database (Redis
checked first), sessions on it, a real SMTP server (aiosmtpd) that records what it receives, real
Celery worker processes, the Flask app. Registered by the root conftest (`pytest_plugins`); nothing
here connects until a test asks for one of these fixtures, and the unit tier refuses them.
"""
from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import psycopg
import pytest
from sqlalchemy.exc import OperationalError

from tests.conftest import DATA_DIR, PG_ADMIN_URL, REDIS_URL, ROOT, TEST_DB

# --- PostgreSQL and Redis: real servers, checked once ---------------------------------------------

@pytest.fixture(scope="session")
def run_database():
    """The run's database, migrated. A missing server ends the run at once, with what is missing."""
    import redis
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).ping()
    except redis.exceptions.ConnectionError as exc:
        pytest.exit(f"Redis is not reachable at {REDIS_URL}: {exc}", returncode=3)
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{TEST_DB}"')
    except psycopg.OperationalError as exc:
        pytest.exit(f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {exc}", returncode=3)
    from parentalites import migrate
    migrate.upgrade()
    yield
    from core import db as database
    database.reset_engine()
    with contextlib.suppress(Exception):  # best effort
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=5).delete(os.environ["CELERY_QUEUE"])
    try:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{TEST_DB}" WITH (FORCE)')
    except psycopg.OperationalError:
        pass


@pytest.fixture
def db(run_database):
    """A session on the test database; every table is emptied after the test."""
    from core import db as database
    from parentalites.bootstrap import bootstrap
    bootstrap()
    database.get_engine()
    # Not the scoped session: the test client's requests run in this thread and remove that one.
    session = database.SessionFactory()
    yield session
    session.close()
    database.session.remove()
    tables = ", ".join(t.name for t in database.Base.metadata.sorted_tables)
    for attempt in range(5):  # a worker may still be finishing a task of this test
        try:
            with database.get_engine().begin() as conn:
                conn.exec_driver_sql("SET LOCAL lock_timeout = '20s'")
                # No RESTART IDENTITY: a late task of an earlier test must never find a new row under its id.
                conn.exec_driver_sql(f"TRUNCATE {tables} CASCADE")
            break
        except OperationalError:
            if attempt == 4:
                raise
            time.sleep(1)


# --- SMTP: a real server that records, and can refuse ---------------------------------------------

@dataclass
class Received:
    envelope_from: str
    recipients: list[str]
    data: bytes

    @property
    def message(self) -> email.message.EmailMessage:
        return email.message_from_bytes(self.data, policy=email.policy.default)


@dataclass
class RecordingHandler:
    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # address → SMTP reply such as "550 5.1.1 …"
    delay: float = 0.0  # seconds per message, to catch a mail-out in the middle
    pipelining: bool = False  # advertise RFC 2920 PIPELINING (aiosmtpd reads commands in order anyway)
    drop_once: set[str] = field(default_factory=set)  # hang up during DATA for these, once each

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(1, "250-PIPELINING")
        return responses


    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return self.refuse[address.lower()]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        dropped = self.drop_once.intersection(r.lower() for r in envelope.rcpt_tos)
        if dropped:
            self.drop_once.difference_update(dropped)
            server.transport.close()  # the connection dies mid-DATA: nothing was accepted
            return "421 closing"
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content))
        return "250 Message accepted"

    def to(self, address: str) -> list[Received]:
        return [m for m in self.messages if address.lower() in (r.lower() for r in m.recipients)]


@pytest.fixture(scope="session")
def smtp_server():
    from aiosmtpd.controller import Controller

    from core.settings import reset_settings
    from parentalites.catcher import free_port
    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    os.environ["SMTP_URL"] = f"smtp://127.0.0.1:{port}"
    reset_settings()
    yield handler
    controller.stop()


@pytest.fixture
def smtp(smtp_server):
    """The session's SMTP server, emptied for this test."""
    smtp_server.messages.clear()
    smtp_server.refuse.clear()
    smtp_server.delay = 0.0
    smtp_server.pipelining = False
    smtp_server.drop_once.clear()
    yield smtp_server
    smtp_server.refuse.clear()
    smtp_server.delay = 0.0
    smtp_server.pipelining = False


# --- Celery: real worker processes over Redis -----------------------------------------------------

class WorkerProcess:
    """`parentalites worker` (or `beat`) as a real process, with its log in the data directory. A
    worker consumes every queue of the run (send, poll, housekeeping, named from the run's
    CELERY_QUEUE) unless `queues` names some (`--queues poll,housekeeping`)."""

    def __init__(self, name: str, concurrency: int = 2, command: str = "worker", ready_marker: bytes = b"ready.",
                 queues: str | None = None):
        self.name = name
        self.queues = queues
        self.command = command
        self.ready_marker = ready_marker
        self.log_path = DATA_DIR / "logs" / f"{name}.log"
        self.concurrency = concurrency
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> WorkerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        args = ["--concurrency", str(self.concurrency)] if self.command == "worker" else []
        if self.queues and self.command == "worker":
            args += ["--queues", self.queues]
        with open(self.log_path, "ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                [sys.executable, "-m", "parentalites.cli", self.command, *args, "--loglevel", "INFO"],
                env={**os.environ, "PYTHONUNBUFFERED": "1"}, cwd=ROOT,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited: {self.log_path.read_text()[-3000:]}")
            if self.ready_marker in self.log_path.read_bytes()[offset:]:
                return self
            time.sleep(0.2)
        raise RuntimeError(f"worker not ready after {timeout}s: {self.log_path.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: the main process and its pool, as a crash would."""
        import signal
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        from parentalites.processes import stop_process
        if self.process:
            stop_process(self.process)

    def pool_pids(self) -> list[int]:
        out = subprocess.run(["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True).stdout
        return [int(pid) for pid in out.split()]


@pytest.fixture(scope="session")
def celery_worker(run_database, smtp_server):
    worker = WorkerProcess("worker").start()
    yield worker
    worker.stop()


# --- Web ----------------------------------------------------------------------------------------

@pytest.fixture
def app(db):
    from parentalites.app import create_app
    application = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def world(db):
    """Two structures, an editor, and a partner in each structure."""
    from accounts.auth import create_user
    from accounts.models import Role
    from contributions.models import Structure, StructureKind
    tilleuls = Structure(name="Centre social Les Tilleuls", kind=StructureKind.centre_social, commune="Bobigny")
    asso = Structure(name="Association Parents Ensemble", kind=StructureKind.association, commune="Montreuil")
    db.add_all([tilleuls, asso])
    db.flush()
    editor = create_user(db, "redaction@reaap.test", "Claire Martin", Role.editor, "mdp-redaction")
    partner = create_user(db, "amina@tilleuls.test", "Amina Benali", Role.partner, "mdp-partenaire", tilleuls.id)
    other = create_user(db, "julien@asso.test", "Julien Morel", Role.partner, "mdp-autre", asso.id)
    db.commit()
    return {"editor": editor, "partner": partner, "other": other, "tilleuls": tilleuls, "asso": asso}
