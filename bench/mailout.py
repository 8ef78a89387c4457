#!/usr/bin/env python
"""Benchmark of the mail-out, end to end, against Postfix's C tools on this machine.

    python bench/mailout.py [--subscribers 100000] [--workers 2] [--concurrency 2] [--chaos] [--dkim] [--embedded]

Creates N subscribers in a PostgreSQL database made for the run, composes a realistic issue of 20
articles, runs the real mail-out through real Celery worker processes over Redis to Postfix's
`smtp-sink` on loopback, and prints: our messages/s, smtp-source's for the same message size to the
same kind of sink, the ratio, the naive loop's rate and ratio, the workers' peak RSS, and deliveries
recorded vs messages the sink counted. The last line is `ratio_to_smtp_source: X.XX`.

With --chaos: a sink that records every recipient (aiosmtpd), one worker SIGKILLed halfway, a new
one started, beat's sweeper giving the dead worker's claims back; prints
`lost: N, duplicates: N, in_flight_at_kill: N`.
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/11")
BENCH_DB = "parentalites_bench"


def configure(args, smtp_port: int, data_dir: Path) -> None:
    if args.embedded:  # the embedded default: SQLite ledger, the SQLAlchemy broker over SQLite
        database_url = f"sqlite:///{data_dir / 'parentalites.sqlite'}"
        broker_url = f"sqla+sqlite:///{data_dir / 'broker.sqlite'}"
    else:
        database_url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{BENCH_DB}"
        broker_url = REDIS
    os.environ.update({
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url, "CELERY_QUEUE": f"bench-{secrets.token_hex(4)}",
        "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "PARENTALITES_DATA_DIR": str(data_dir),
        "SECRET_KEY": "bench", "BASE_URL": "https://parentalites.example.org",
        "MAIL_FROM": "Lettre Parentalités <lettre@parentalites.example.org>",
        "MAILOUT_BATCH_SIZE": str(args.batch_size),
        "MAILOUT_PARALLELISM": str(args.workers * args.concurrency),
        "MAILOUT_STALE_AFTER": "10" if args.chaos else "300",
    })


def create_database(embedded: bool = False) -> None:
    if embedded:
        from parentalites import migrate
        migrate.upgrade()
        return
    import psycopg
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    from parentalites import migrate
    migrate.upgrade()


ARTICLE = ("Le centre social ouvre chaque semaine un temps d'échange entre parents et professionnels : "
           "on y parle de la scolarité, du sommeil, des écrans, de l'adolescence, des relations avec "
           "l'école. Les enfants sont accueillis dans la salle voisine par une animatrice. ")


def seed(subscribers: int):
    """Structures, an editor, 20 accepted articles in an issue, and N active subscribers."""
    from datetime import date

    from parentalites.bootstrap import bootstrap
    bootstrap()  # the one bootstrap: jobs go to Redis after COMMIT, as from the web app
    from accounts.auth import create_user
    from accounts.models import Role
    from contributions.models import (
        Contribution,
        ContributionKind,
        ContributionStatus,
        Structure,
        StructureKind,
    )
    from contributions.rubriques import RUBRIQUES
    from core.db import get_engine, session
    from newsletter import issues
    get_engine()
    db = session()
    structure = Structure(name="Centre social des Bench", kind=StructureKind.centre_social, commune="Bobigny")
    db.add(structure)
    db.flush()
    editor = create_user(db, "redaction@bench.test", "Rédaction", Role.editor, None)
    issue = issues.create_issue(db, editor, 1, "Lettre de mesure", date.today(), "Édito. " + ARTICLE * 3)
    for n in range(20):
        c = Contribution(structure_id=structure.id, kind=ContributionKind.actualite, status=ContributionStatus.accepted,
                         title=f"Article {n + 1} : un café des parents à Bobigny", body_md=(ARTICLE * 4 + "\n\n") * 2,
                         link=f"https://exemple.org/article-{n + 1}")
        db.add(c)
        db.flush()
        issues.add_item(db, issue, c, RUBRIQUES[n % len(RUBRIQUES)][0])
    if db.get_bind().dialect.name == "sqlite":
        db.execute(__import__("sqlalchemy").text(
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < :n) "
            "INSERT INTO subscribers (email, name, structure_name, status, unsubscribe_token, created_at) "
            "SELECT 'pro' || g || '@bench.example.org', 'Professionnel·le ' || g, '', 'active', "
            "lower(hex(randomblob(16))), strftime('%Y-%m-%d %H:%M:%f', 'now') FROM s"), {"n": subscribers})
    else:
        db.execute(__import__("sqlalchemy").text(
            "INSERT INTO subscribers (email, name, structure_name, status, unsubscribe_token, created_at) "
            "SELECT 'pro' || g || '@bench.example.org', 'Professionnel·le ' || g, '', 'active', "
            "md5(g::text || random()::text), now() "
            "FROM generate_series(1, :n) AS g"), {"n": subscribers})
    db.commit()
    return db, issue


def message_size(db, issue) -> int:
    from mailing import engine
    from newsletter import mailout
    mailout.compile_issue(db, issue)
    db.commit()
    sample = engine.Claimed(delivery_id=1, attempts=0, email="pro1@bench.example.org",
                             name="Professionnel·le 1", unsubscribe_token="x" * 32)
    return len(engine.personalised_message(mailout.letter_mime(issue), mailout.message_id_prefix(issue), sample)[1])


def naive_loop(port: int, count: int, issue) -> float:
    """The baseline of the issue: an EmailMessage per recipient, one reused smtplib connection."""
    from core import urls
    from mailing import engine
    from mailing.mime import build_message
    letter = engine.CompiledLetter(issue.subject, issue.compiled_html, issue.compiled_text)
    client = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for n in range(count):
        url = urls.absolute(urls.unsubscribe_path(f"token{n}"))
        html_body, text_body = letter.render(
            {"greeting": f"Bonjour Pro {n},", "unsubscribe_url": url, "preferences_url": url})
        message = build_message(to=f"pro{n}@bench.example.org", subject=letter.subject, text=text_body,
                                html=html_body, message_id=f"<naive.{n}@bench>", headers=engine.letter_headers(url))
        client.sendmail("lettre@parentalites.example.org", [f"pro{n}@bench.example.org"], message)
    elapsed = time.perf_counter() - started
    client.quit()
    return elapsed


class Workers:
    def __init__(self, log_dir: Path):
        self.log_dir = log_dir
        self.processes: list[subprocess.Popen] = []
        self.peak_rss_kb = 0

    def start(self, command: str = "worker", concurrency: int = 2) -> subprocess.Popen:
        extra = ["--concurrency", str(concurrency)] if command == "worker" else []
        log = self.log_dir / f"{command}-{len(self.processes)}.log"
        with open(log, "wb") as output:  # the child writes to its own copy of the descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "parentalites.cli", command, *extra, "--loglevel", "WARNING"],
                cwd=ROOT, env=os.environ.copy(), stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        return process

    def sample_rss(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                continue
            pids = [process.pid] + [int(p) for p in subprocess.run(["pgrep", "-P", str(process.pid)],
                                                                   capture_output=True, text=True).stdout.split()]
            for pid in pids:
                try:
                    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                        if line.startswith("VmRSS:"):
                            self.peak_rss_kb = max(self.peak_rss_kb, int(line.split()[1]))
                except FileNotFoundError:
                    pass

    def kill(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def run_mailout(db, issue, workers: Workers, args, on_progress=None) -> float:
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from newsletter import mailout
    from newsletter.models import Issue, IssueStatus
    started = time.perf_counter()
    mailout.request_send(db, issue)
    db.commit()
    with Progress(TextColumn("mail-out"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  transient=True) as bar:
        task = bar.add_task("send", total=args.subscribers)
        while True:
            time.sleep(0.25)
            workers.sample_rss()
            db.expire_all()
            p = mailout.progress(db, issue.id)
            bar.update(task, completed=p.done)
            if on_progress:
                on_progress(p)
            if db.get(Issue, issue.id).status is IssueStatus.sent:
                return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=2, help="pool processes per worker")
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--naive", type=int, default=2000, help="messages for the naive loop")
    parser.add_argument("--source-messages", type=int, default=20000, help="messages for smtp-source")
    parser.add_argument("--chaos", action="store_true")
    parser.add_argument("--dkim", action="store_true", help="sign every message (a fresh RSA 2048 key)")
    parser.add_argument("--embedded", action="store_true",
                        help="the embedded default: SQLite ledger and the SQLAlchemy broker (no PostgreSQL, no Redis)")
    args = parser.parse_args()

    from postfix_tools import Sink, smtp_source

    from parentalites.catcher import free_port

    data_dir = Path(tempfile.mkdtemp(prefix="parentalites-bench-"))
    port = free_port()
    configure(args, port, data_dir)
    if args.dkim:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        (data_dir / "dkim.pem").write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        os.environ.update({"DKIM_DOMAIN": "parentalites.example.org", "DKIM_SELECTOR": "bench",
                           "DKIM_PRIVATE_KEY": str(data_dir / "dkim.pem")})
    create_database(args.embedded)
    db, issue = seed(args.subscribers)
    size = message_size(db, issue)
    sessions = args.workers * args.concurrency
    print(f"message: {size} bytes on the wire; subscribers: {args.subscribers}; "
          f"workers: {args.workers} x {args.concurrency}; batch: {args.batch_size}; "
          f"DKIM: {'on' if args.dkim else 'off'}; "
          f"ledger: {'SQLite, SQLAlchemy broker' if args.embedded else 'PostgreSQL, Redis'}")

    if args.chaos:
        return chaos(db, issue, args, port, data_dir)

    sink = Sink(port)
    source_n = min(args.source_messages, args.subscribers)
    elapsed, command = smtp_source(port, source_n, size, sessions)
    source_rate = source_n / elapsed
    sink.stop()
    print(f"smtp-source: {source_rate:.0f} msg/s ({source_n} messages, {sessions} reused sessions)")

    sink = Sink(port)
    naive_rate = args.naive / naive_loop(port, args.naive, issue)
    sink.stop()
    print(f"naive loop: {naive_rate:.0f} msg/s ({args.naive} messages, EmailMessage + reused smtplib)")

    sink = Sink(port)
    workers = Workers(data_dir)
    for _ in range(args.workers):
        workers.start(concurrency=args.concurrency)
    time.sleep(3)  # let the workers connect to Redis before the clock starts
    try:
        elapsed = run_mailout(db, issue, workers, args)
    finally:
        workers.stop_all()
    time.sleep(0.5)
    from newsletter import mailout
    p = mailout.progress(db, issue.id)
    sink_count = sink.count()
    sink.stop()
    rate = args.subscribers / elapsed
    print(f"parentalites: {rate:.0f} msg/s ({args.subscribers} deliveries in {elapsed:.1f} s)")
    print(f"deliveries recorded: {p.sent} sent, {p.failed} failed; sink counted: {sink_count}"
          f" ({'match' if sink_count == p.sent else 'MISMATCH'})")
    print(f"workers peak RSS: {workers.peak_rss_kb / 1024:.0f} MiB (largest single process)")
    print(f"naive_ratio_to_smtp_source: {naive_rate / source_rate:.2f}")
    print(f"ratio_to_smtp_source: {rate / source_rate:.2f}")
    return 0 if sink_count == p.sent == args.subscribers else 1


def chaos(db, issue, args, port: int, data_dir: Path) -> int:
    """Kill a worker halfway with SIGKILL; a new one and the sweeper finish the mail-out."""
    from aiosmtpd.controller import Controller
    from sqlalchemy import func, select

    from mailing.models import Delivery, DeliveryStatus

    received: Counter = Counter()

    class Recorder:
        async def handle_DATA(self, server, session, envelope):
            received.update(envelope.rcpt_tos)
            return "250 OK"

    controller = Controller(Recorder(), hostname="127.0.0.1", port=port)
    controller.start()
    workers = Workers(data_dir)
    victim = workers.start(concurrency=args.concurrency)
    for _ in range(args.workers - 1):
        workers.start(concurrency=args.concurrency)
    workers.start("beat")
    time.sleep(3)
    state = {"in_flight": None}

    def maybe_kill(p):
        if state["in_flight"] is None and p.done >= args.subscribers // 2:
            state["in_flight"] = db.scalar(select(func.count()).where(
                Delivery.issue_id == issue.id, Delivery.status == DeliveryStatus.claimed))
            workers.kill(victim)
            workers.start(concurrency=args.concurrency)
    try:
        elapsed = run_mailout(db, issue, workers, args, on_progress=maybe_kill)
    finally:
        workers.stop_all()
        controller.stop()
    expected = {f"pro{n}@bench.example.org" for n in range(1, args.subscribers + 1)}
    lost = len(expected - set(received))
    duplicates = sum(count - 1 for count in received.values())
    print(f"chaos mail-out finished in {elapsed:.1f} s")
    print(f"lost: {lost}, duplicates: {duplicates}, in_flight_at_kill: {state['in_flight']}")
    return 0 if lost == 0 and duplicates <= (state["in_flight"] or 0) else 1


if __name__ == "__main__":
    sys.exit(main())
