#!/usr/bin/env python
"""How long /connexion/lien and /abonnement take, per kind of address: does the time tell whether an
account exists, or whether an address is suppressed? (issue 13 item 12)

    .venv/bin/python bench/enumeration.py [--repeat 200]

A PostgreSQL database made for the run (dropped at the end), the Flask app through its test client
(rate limits and CSRF off), jobs captured rather than sent. Interleaves the kinds of address, after a
warm-up, and prints the median and p90 in ms per kind, then `login_link_gap_ms: X.X` and
`subscribe_gap_ms: X.X` (the largest difference of medians between kinds, for each form).
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BENCH_DB = f"parentalites_bench_enum_{secrets.token_hex(4)}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    import psycopg
    os.environ.update({
        "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + f"/{BENCH_DB}",
        "PARENTALITES_DATA_DIR": tempfile.mkdtemp(prefix="bench-enum-"), "SECRET_KEY": "bench",
        "BASE_URL": "https://parentalites.example.org", "CELERY_BROKER_URL": "memory://"})
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{BENCH_DB}"')
    try:
        run(args.repeat)
    finally:
        from core.db import reset_engine
        reset_engine()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{BENCH_DB}" WITH (FORCE)')


def run(repeat: int) -> None:
    from parentalites import migrate
    migrate.upgrade()
    from accounts.auth import create_user
    from accounts.models import Role
    from core import jobs
    from core.db import SessionFactory
    from parentalites.app import create_app
    from subscribers.models import Subscriber, SubscriberStatus
    app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
    jobs.set_sender(lambda name, args, options: None)
    db = SessionFactory()
    create_user(db, "compte@exemple.org", "Compte", Role.editor, "mot de passe long")
    db.add(Subscriber(email="supprimee@exemple.org", name="S", status=SubscriberStatus.suppressed))
    db.commit()
    client = app.test_client()
    forms = {
        "login_link": {"account": lambda n: ("/connexion/lien", {"email": "compte@exemple.org"}),
                       "unknown": lambda n: ("/connexion/lien", {"email": f"inconnu{n}@exemple.org"})},
        "subscribe": {"new": lambda n: ("/abonnement", {"email": f"nouvelle{n}@exemple.org", "name": "Z",
                                                        "consent": "y"}),
                      "suppressed": lambda n: ("/abonnement", {"email": "supprimee@exemple.org", "name": "Z",
                                                                "consent": "y"})},
    }
    for form, kinds in forms.items():
        times: dict[str, list[float]] = {kind: [] for kind in kinds}
        for n in range(repeat + 10):
            for kind, make in kinds.items():
                path, data = make(n)
                started = time.perf_counter()
                client.post(path, data=data)
                if n >= 10:
                    times[kind].append((time.perf_counter() - started) * 1000)
        medians = {}
        for kind, values in times.items():
            values.sort()
            medians[kind] = statistics.median(values)
            print(f"{form:10} {kind:10} median {medians[kind]:6.2f} ms  p90 {values[int(len(values) * 0.9)]:6.2f} ms")
        print(f"{form}_gap_ms: {max(medians.values()) - min(medians.values()):.2f}")


if __name__ == "__main__":
    main()
