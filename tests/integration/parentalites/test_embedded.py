"""The embedded default, as a new user runs it: SQLite, a real Celery worker over kombu's
SQLAlchemy transport, the local SMTP catcher. And the commands around it."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest

from parentalites.catcher import free_port, read_maildir
from tests.conftest import ROOT


def run_cli(*args: str, data_dir: Path, timeout: float = 300,
            extra_env: dict | None = None) -> subprocess.CompletedProcess:
    # Only what a user would have: no DATABASE_URL, broker or SMTP from the test session.
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_QUEUE", "SMTP_URL", "SECRET_KEY", "BASE_URL",
                        "MAILOUT_BATCH_SIZE", "MAILOUT_STALE_AFTER", "MAIL_FROM")}
    env.update({"PARENTALITES_DATA_DIR": str(data_dir), "CATCHER_PORT": str(free_port()), **(extra_env or {})})
    return subprocess.run([sys.executable, "-m", "parentalites.cli", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("demo") / "var"
    result = run_cli("demo", "--no-serve", data_dir=data_dir)
    return data_dir, result


def test_demo_runs_the_whole_cycle_and_exits_zero(demo_run):
    data_dir, result = demo_run
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "17 (17 envoyées, 0 en échec)" in result.stdout
    assert "2 importées, 0 mise à jour, 0 ignorée, 0 inchangée" in " ".join(result.stdout.split())  # rich wraps at 80
    assert (data_dir / "parentalites.sqlite").exists() and (data_dir / "broker.sqlite").exists()


def test_demo_letters_reach_every_confirmed_subscriber_through_the_catcher(demo_run):
    data_dir, _ = demo_run
    messages = read_maildir(data_dir / "mail")
    letters = [m for m in messages if m["Subject"].startswith("Lettre Parentalités n°1")]
    recipients = [m["X-Envelope-To"] for m in letters]
    assert len(recipients) == len(set(recipients)) == 17
    assert all(m["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click" for m in letters)
    subjects = {m["Subject"] for m in messages}
    assert any(s.startswith("[TEST] Lettre Parentalités n°1") for s in subjects)
    assert any(s.startswith("Votre contribution est acceptée") for s in subjects)
    # The invitation to the soirée went to the confirmed CLAS referents, and only to them.
    import sqlite3
    with sqlite3.connect(data_dir / "parentalites.sqlite") as connection:
        referents = {row[0] for row in connection.execute(
            "SELECT email FROM subscribers WHERE status = 'active' AND role = 'referent_clas'")}
    invited = [m["X-Envelope-To"] for m in messages if m["Subject"].startswith("Invitation")]
    assert referents and sorted(invited) == sorted(referents)


def test_archive_export_writes_a_static_site_of_the_demo(demo_run, tmp_path):
    data_dir, _ = demo_run
    result = run_cli("archive", "export", str(tmp_path / "site"), data_dir=data_dir)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "site" / "index.html").exists() and (tmp_path / "site" / "1" / "index.html").exists()
    assert "Café des parents" in (tmp_path / "site" / "1" / "index.html").read_text()
    assert (tmp_path / "site" / "favicon.svg").exists() and 'href="../favicon.svg"' in (
        tmp_path / "site" / "1" / "index.html").read_text()
    feed = feedparser.parse((tmp_path / "site" / "feed.atom").read_bytes())
    assert feed.bozo == 0 and len(feed.entries) == 1


def test_demo_refuses_to_wipe_a_data_directory_it_did_not_create(tmp_path):
    data_dir = tmp_path / "precious"
    data_dir.mkdir()
    (data_dir / "parentalites.sqlite").write_bytes(b"real data")
    result = run_cli("demo", "--no-serve", data_dir=data_dir, timeout=60)
    assert result.returncode == 1 and "ne viennent pas de la démo" in result.stdout
    assert (data_dir / "parentalites.sqlite").read_bytes() == b"real data"
    # Nothing written into it either (issue 13, item 27: the secret key file was, before refusing).
    assert sorted(p.name for p in data_dir.iterdir()) == ["parentalites.sqlite"]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie (exited, not yet reaped by its parent) is gone for our purpose.
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.parametrize("when", ["Envoi lancé", "Le site tourne"])
def test_sigterm_stops_the_demo_with_its_worker_and_beat(tmp_path, when):
    """Issue 13, item 27: SIGTERM (what a service manager or `kill` sends) left the worker and
    beat running. Whether it comes during the cycle or while the site is served, they stop too."""
    import re
    import signal
    import time
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "CELERY_QUEUE", "SMTP_URL", "SECRET_KEY", "BASE_URL",
                        "MAILOUT_BATCH_SIZE", "MAILOUT_STALE_AFTER", "MAIL_FROM")}
    env.update({"PARENTALITES_DATA_DIR": str(tmp_path / "var"), "CATCHER_PORT": str(free_port()),
                "PYTHONUNBUFFERED": "1", "COLUMNS": "200"})
    process = subprocess.Popen([sys.executable, "-m", "parentalites.cli", "demo", "--port", str(free_port())],
                               env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen, pids = [], []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            seen.append(line)
            if match := re.search(r"pid (\d+)\) et beat \(pid (\d+)\)", line):
                pids = [int(match[1]), int(match[2])]
            if when in line:
                break
        assert pids and when in seen[-1], "".join(seen)[-3000:]
        assert all(_alive(pid) for pid in pids)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(pid) for pid in pids), f"still running: {[p for p in pids if _alive(p)]}"
    finally:
        for pid in pids:
            if _alive(pid):
                os.killpg(pid, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.wait()


def test_db_upgrade_creates_a_fresh_sqlite_database(tmp_path):
    result = run_cli("db", "upgrade", data_dir=tmp_path / "new" / "var", timeout=60,
                     extra_env={"SECRET_KEY": "fixed"})  # no secret_key file: the folder must still be made
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "new" / "var" / "parentalites.sqlite").exists()


def test_migrations_match_the_models_on_postgresql(db):
    """`alembic check`: the migrations describe exactly the schema the models declare."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from core.db import get_engine
    from parentalites.models import include_name, metadata
    with get_engine().connect() as conn:
        diff = compare_metadata(MigrationContext.configure(
            conn, opts={"compare_type": True, "include_name": include_name}), metadata)
    assert diff == []
