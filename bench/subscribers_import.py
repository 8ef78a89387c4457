#!/usr/bin/env python
"""Benchmark of the subscriber import (`parentalites subscribers import FILE`) on PostgreSQL.

    .venv/bin/python bench/subscribers_import.py [--rows 50000] [--seed 10]

Writes N synthetic rows (French names, structures, communes, départements, topics and roles; a
third with a consent date, a third on legitimate interest, a third with neither) as a `;` CSV with
a BOM, makes a PostgreSQL database `parentalites_bench_<random>` for the run (dropped at the end),
migrates it, then times, in the same run:

1. `parse` alone (reading and checking every row: the pure half);
2. the whole import as the CLI runs it (`import_file` + COMMIT): parse, judge against the list,
   INSERT … ON CONFLICT in batches, consent proofs, history rows, and the confirmation and welcome
   mail-outs planned (one Delivery per pending or legitimate-interest subscriber; no job is sent);
3. the same file imported again (everything unchanged: the judging alone);
4. the baseline: the same rows written by one plain executemany INSERT into an emptied table, with
   no check, no proof, no history.

Prints each phase with its time and rate, then the machine-readable lines `import_seconds: X.X`,
`import_rate: N` and `baseline_seconds: X.X`. The target of issue 10 is < 30 s for 50,000 rows.
"""
from __future__ import annotations

import argparse
import os
import random
import secrets
import sys
import tempfile
import time
import unicodedata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

FIRST = ["Anne", "Bruno", "Chloé", "Daniel", "Élodie", "Farid", "Gaëlle", "Hugo", "Inès", "Jérôme", "Karima",
         "Loïc", "Maëlys", "Nadia", "Océane", "Pascal", "Rachid", "Sophie", "Thierry", "Yasmine", "Zoé"]
LAST = ["Martin", "Bernard", "Dubois", "Thomas", "Robert", "Petit", "Durand", "Leroy", "Moreau", "Lefèvre",
        "Garnier", "Benali", "Nguyen", "Da Silva", "Traoré", "Haddad", "Kowalski", "Le Gall", "Roux", "Fournier"]
KINDS = ["Centre social", "Espace de vie sociale", "Association", "Collège", "Mairie", "CAF", "Médiathèque"]
PLACES = [("Bondy", "93"), ("Pantin", "93"), ("Montreuil", "Seine-Saint-Denis"), ("Créteil", "94"),
          ("Nanterre", "92"), ("Évry-Courcouronnes", "91"), ("Saint-Denis", "974"), ("Ajaccio", "2A"),
          ("Lille", "Nord"), ("Marseille", "13"), ("Lyon", "69"), ("Cergy", "Val-d'Oise")]
TOPICS = ["Réaap", "CLAS", "Petite enfance", "Adolescence", "Parents et écrans", "Santé"]
ROLES = ["Référent·e CLAS", "Travailleur·se social·e", "Animateur·rice", "Enseignant·e", "Bénévole", "Élu·e", ""]


def generate(count: int, seed: int) -> bytes:
    rng = random.Random(seed)
    lines = ["email;nom;structure;thèmes;rôle;commune;département;base légale;date du consentement;source"]
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        commune, departement = rng.choice(PLACES)
        kind = i % 3
        basis = ("", "intérêt légitime", "")[kind]
        consent = f"{rng.randint(1, 28):02d}/{rng.randint(1, 12):02d}/{rng.randint(2019, 2025)}" if kind == 0 else ""
        topics = "|".join(rng.sample(TOPICS, rng.randint(0, 3)))
        local = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
        address = f"{local}.{i}@exemple-{i % 97}.fr".lower().replace(" ", "-")
        lines.append(";".join([address, f"{first} {last}", f"{rng.choice(KINDS)} de {commune}", topics,
                               rng.choice(ROLES), commune, departement, basis, consent, "annuaire 2025"]))
    return ("\ufeff" + "\n".join(lines) + "\n").encode("utf-8")


def pg_create() -> tuple[str, str]:
    import psycopg
    name = f"parentalites_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name, PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"


def pg_drop(name: str) -> None:
    import psycopg
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def use_database(url: str, data_dir: Path) -> None:
    from core import db, settings
    os.environ.update({"DATABASE_URL": url, "PARENTALITES_DATA_DIR": str(data_dir), "CELERY_BROKER_URL": "memory://",
                       "SECRET_KEY": "bench", "BASE_URL": "https://parentalites.example.org"})
    settings.reset_settings()
    db.reset_engine()
    from parentalites.bootstrap import bootstrap
    from parentalites.migrate import upgrade
    upgrade()
    bootstrap(sender=lambda name, args, options: None)  # the mail-outs are planned, no job leaves


def line(label: str, seconds: float, rows: int) -> None:
    print(f"{label:<52} {seconds:7.2f} s  {rows / seconds:9.0f} rows/s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=10)
    args = parser.parse_args()

    raw = generate(args.rows, args.seed)
    print(f"{args.rows} rows, {len(raw) / 1_048_576:.1f} MB of CSV")
    name, url = pg_create()
    try:
        with tempfile.TemporaryDirectory() as data_dir:
            use_database(url, Path(data_dir))
            from sqlalchemy import func, insert, select, text

            from core.db import SessionFactory
            from mailing.models import Delivery
            from subscribers.importer import SUBSCRIBERS, import_file, parse
            from subscribers.models import Subscriber, new_token

            start = time.perf_counter()
            parsed = parse(raw, "bench.csv")
            parse_seconds = time.perf_counter() - start
            assert len(parsed.rows) == args.rows, parsed.refused[:3]
            line("1. parse alone", parse_seconds, args.rows)

            db = SessionFactory()
            start = time.perf_counter()
            plan = import_file(db, raw, "bench.csv", actor="bench@example.org")
            db.commit()
            import_seconds = time.perf_counter() - start
            line("2. import (parse, judge, write, plan the mails)", import_seconds, args.rows)
            print(f"   {plan.summary}; subscribers: {db.scalar(select(func.count(Subscriber.id)))}, "
                  f"deliveries planned: {db.scalar(select(func.count(Delivery.id)))}")

            start = time.perf_counter()
            again = import_file(db, raw, "bench.csv")
            db.commit()
            again_seconds = time.perf_counter() - start
            line("3. same file again (all unchanged)", again_seconds, args.rows)
            print(f"   {again.summary}")

            db.execute(text("TRUNCATE subscribers CASCADE"))
            db.commit()
            values = [{"email": r.email, "name": r.name or "", "structure_name": r.structure or "",
                       "topics": r.topics or [], "role": r.role, "commune": r.commune,
                       "departement": r.departement, "status": "pending", "unsubscribe_token": new_token()}
                      for r in parsed.rows]
            start = time.perf_counter()
            db.execute(insert(SUBSCRIBERS), values)
            db.commit()
            baseline_seconds = time.perf_counter() - start
            line("4. baseline: one plain executemany INSERT", baseline_seconds, args.rows)
            db.close()
            from core.db import reset_engine
            reset_engine()
    finally:
        pg_drop(name)
    print(f"import_seconds: {import_seconds:.1f}")
    print(f"import_rate: {args.rows / import_seconds:.0f}")
    print(f"baseline_seconds: {baseline_seconds:.1f}")
    print(f"target (< 30 s): {'met' if import_seconds < 30 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
