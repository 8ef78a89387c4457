#!/usr/bin/env python
"""Benchmark of the editors' subscriber list (`/redaction/abonnes/`) with many subscribers.

    .venv/bin/python bench/subscribers_list.py [--subscribers 100000] [--repeat 15]

Makes a PostgreSQL database `parentalites_bench_subs_<random>` (dropped at the end), migrates it,
seeds N subscribers (French names with accents, structures, topics, roles, communes, départements,
every status) with one COPY, runs ANALYZE as autovacuum would after a bulk load, logs in as an
editor through Flask's test client, then times `GET /redaction/abonnes/` end to end (median and p95
over --repeat runs after one warm-up) for:

- the list with no filter,
- a search (a name, accent-insensitive: what an editor types),
- a search matching nothing (every row is read: the worst case),
- a filter (status + département + topic),
- an export of the filter's selection (CSV, every row).

Baseline, measured in the same run on the same connection pool: a bare `SELECT count(*) FROM
subscribers` (the floor of any page that counts). Prints each figure, its ratio to the baseline,
and last the machine-readable lines `search_median_ms: X`, `filter_median_ms: X`.
Target (issue 10): under 200 ms median for a search and for a filter.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

FIRST = ["Zoé", "Hélène", "Léa", "Chloé", "Inès", "Amina", "Camille", "Noé", "Jérôme", "François", "Anaïs",
         "Maëlle", "Loïc", "Cédric", "Agnès", "Ophélie", "Mathéo", "Raphaël", "Gaëlle", "Benoît", "Julien",
         "Sarah", "Karim", "Fatoumata", "Thibault", "Élodie", "Stéphane", "Nadège", "Grégoire", "Aurélie"]
LAST = ["Martin", "Lefèvre", "Dubois", "Lœuvre", "Bérard", "Çelik", "Garnier", "Rousseau", "Benali", "Nguyen",
        "Da Silva", "Moreau", "Lemaître", "Fournier", "Girard", "Morel", "Mercier", "Faure", "André", "Chevalier",
        "Boyer", "Dupré", "Hébert", "Ménard", "Leroy", "Roux", "Vidal", "Picard", "Brunet", "Perrin"]
KINDS = ["Centre social", "Association", "École", "Mairie", "Médiathèque", "Maison des familles", "CAF",
         "Collège", "Crèche", "PMI"]
PLACES = [("Bobigny", "93"), ("Saint-Denis", "93"), ("Montreuil", "93"), ("Pantin", "93"), ("Créteil", "94"),
          ("Vitry-sur-Seine", "94"), ("Ajaccio", "2A"), ("Bastia", "2B"), ("Saint-Étienne", "42"),
          ("Besançon", "25"), ("Orléans", "45"), ("Évry-Courcouronnes", "91"), ("Cergy", "95"), ("Lyon", "69"),
          ("Pointe-à-Pitre", "971"), ("Saint-Denis", "974"), ("Nîmes", "30"), ("Béziers", "34")]
TOPICS = ["parentalite", "clas", "petite_enfance", "adolescence", "numerique", "sante"]
ROLES = ["referent_clas", "travailleur_social", "animateur", "enseignant", "benevole", "elu", "autre", None]
STATUSES = ["active"] * 80 + ["pending"] * 8 + ["unsubscribed"] * 9 + ["suppressed"] * 3

SEARCH = "hélène lœuvre"     # two words, accents: ~1/900 of the rows
SEARCH_NONE = "introuvable"  # nothing: every row is read
FILTER = {"statut": "active", "departement": "93", "theme": "clas"}


def seed(url: str, count: int) -> None:
    from datetime import UTC, datetime, timedelta

    import psycopg

    from subscribers.directory import fold
    rng = random.Random(10)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    buffer = io.StringIO()
    for i in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        commune, dep = rng.choice(PLACES)
        topics = rng.sample(TOPICS, rng.choice([0, 1, 1, 2, 3]))
        role = rng.choice(ROLES)
        status = rng.choice(STATUSES)
        email = fold(f"{first}.{last}.{i}@exemple-{i % 97}.fr").replace(" ", "")
        values = [email, f"{first} {last}", f"{rng.choice(KINDS)} de {commune}", json.dumps(topics),
                  role or "\\N", commune, dep, status, secrets.token_urlsafe(24), "formulaire",
                  (start + timedelta(minutes=i)).isoformat()]
        buffer.write("\t".join(v.replace("\t", " ") for v in values) + "\n")
    buffer.seek(0)
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    columns = ("email, name, structure_name, topics, role, commune, departement, status, unsubscribe_token, "
               "source, created_at")
    with (psycopg.connect(plain) as conn, conn.cursor() as cur,
          cur.copy(f"COPY subscribers ({columns}) FROM STDIN") as copy):
        copy.write(buffer.read())
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE subscribers")


def timed(fn, repeat: int) -> list[float]:
    times = []
    for run in range(repeat + 1):
        started = time.perf_counter()
        fn()
        if run:  # the first run warms the caches up
            times.append(time.perf_counter() - started)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="Keep the database (its name is printed).")
    args = parser.parse_args()

    import psycopg
    name = f"parentalites_bench_subs_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    data_dir = Path(tempfile.mkdtemp(prefix="bench-subs-"))
    try:
        from core import db, settings
        os.environ.update({"DATABASE_URL": url, "PARENTALITES_DATA_DIR": str(data_dir),
                           "CELERY_BROKER_URL": "memory://", "SECRET_KEY": "bench",
                           "BASE_URL": "https://parentalites.example.org"})
        settings.reset_settings()
        db.reset_engine()
        from parentalites.migrate import upgrade
        upgrade()
        from parentalites.bootstrap import bootstrap
        bootstrap()
        started = time.perf_counter()
        seed(url, args.subscribers)
        print(f"seeded {args.subscribers} subscribers in {time.perf_counter() - started:.1f} s", flush=True)

        from sqlalchemy import text

        from accounts.auth import create_user
        from accounts.models import Role
        from parentalites.app import create_app
        session = db.SessionFactory()
        create_user(session, "redaction@bench.test", "Rédaction", Role.editor, "mot-de-passe-bench")
        session.commit()
        session.close()
        app = create_app({"TESTING": True, "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})
        client = app.test_client()
        assert client.post("/connexion", data={"email": "redaction@bench.test",
                                               "password": "mot-de-passe-bench"}).status_code == 302

        def baseline() -> None:
            with db.get_engine().connect() as conn:
                conn.execute(text("SELECT count(*) FROM subscribers")).scalar()

        def page(params: dict, expect: str | None = None):
            def run() -> None:
                response = client.get("/redaction/abonnes/", query_string=params)
                assert response.status_code == 200, response.status_code
                if expect:
                    assert expect in response.get_data(as_text=True), expect
            return run

        def export(params: dict):
            def run() -> None:
                response = client.get("/redaction/abonnes/export.csv", query_string=params)
                assert response.status_code == 200 and len(response.get_data()) > 100
            return run

        measures = [
            ("baseline: SELECT count(*)", baseline, args.repeat),
            ("list, no filter", page({}), args.repeat),
            (f"search {SEARCH!r}", page({"q": SEARCH}, "Hélène Lœuvre"), args.repeat),
            (f"search {SEARCH_NONE!r} (no match)", page({"q": SEARCH_NONE}), args.repeat),
            ("search 'martin' (common: ~1/30 of the rows)", page({"q": "martin"}), args.repeat),
            ("search 'é' (one letter: no trigram, every row read)", page({"q": "é"}), max(3, args.repeat // 3)),
            ("filter commune 'saint-etienne' (accents folded)", page({"commune": "saint-etienne"}, "Saint-Étienne"),
             args.repeat),
            (f"filter {FILTER}", page(FILTER), args.repeat),
            ("export of the filter (CSV)", export(FILTER), max(3, args.repeat // 5)),
        ]
        results = {}
        base = None
        for label, fn, repeat in measures:
            times = timed(fn, repeat)
            median = statistics.median(times)
            base = base or median
            results[label] = median
            print(f"{label:55s} median {median * 1000:8.1f} ms  p95 {p95(times) * 1000:8.1f} ms  "
                  f"x{median / base:7.1f} baseline  ({len(times)} runs)", flush=True)
        with db.get_engine().connect() as conn:
            n_filter = conn.execute(text(
                "SELECT count(*) FROM subscribers WHERE status='active' AND departement='93' AND "
                "(topics::jsonb = '[]'::jsonb OR topics::jsonb ? 'clas')")).scalar()
        print(f"(the filter selects {n_filter} of {args.subscribers} subscribers)")
        print(f"search_median_ms: {results[f'search {SEARCH!r}'] * 1000:.1f}")
        print(f"search_nomatch_median_ms: {results[f'search {SEARCH_NONE!r} (no match)'] * 1000:.1f}")
        print(f"filter_median_ms: {results[f'filter {FILTER}'] * 1000:.1f}")
        print(f"baseline_median_ms: {results['baseline: SELECT count(*)'] * 1000:.2f}")
    finally:
        from core import db, settings
        db.reset_engine()
        settings.reset_settings()
        if args.keep:
            print(f"kept database: {name}")
        else:
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
