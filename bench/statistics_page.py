#!/usr/bin/env python
"""Benchmark of the statistics page (`/redaction/statistiques/`) and the yearly report (PDF).

    .venv/bin/python bench/statistics_page.py [--subscribers 100000] [--per-letter 2000] [--repeat 15]

Makes a PostgreSQL database `parentalites_bench_stats_<random>` (dropped at the end), migrates it,
seeds N subscribers (bench/subscribers_list.py's COPY, then dates spread over 2025-2026: confirmed,
unsubscribed, suppressed), 300 structures, 3,000 contributions with their decisions, 50 mail-outs
of 2026 (40 letters, 10 invitations) with --per-letter deliveries each (INSERT … SELECT
generate_series: 50 × 2,000 = 100,000 rows by default, not 50 × 100,000 = 5 million, which this
shared machine cannot hold in reasonable time), 1 % of them bounced, unsubscribes naming their
letter, and 200 events with 30 registrations each. Then ANALYZE, and times through Flask's test
client (median and p95 over --repeat runs after one warm-up):

- the page for the year 2026 (every table; the plots are separate SVG images, timed apart),
- one plot (the subscribers month by month, the heaviest),
- one CSV,
- the yearly report as a PDF (fewer runs).

Baseline, same run, same pool: a bare `SELECT count(*) FROM subscribers`. Prints each figure and its
ratio to the baseline, then `page_median_ms: X` and `pdf_median_ms: X`. Target (issue 12): the page
under 300 ms median.
"""
from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on the path and its name hides the standard
# library's `statistics`: the folder goes, the project's root comes instead.
HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:] = [str(ROOT)] + [p for p in sys.path if Path(p or ".").resolve() != HERE]

import argparse  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from bench.subscribers_list import PG_ADMIN, p95, seed, timed  # noqa: E402

WORLD_SQL = """
UPDATE subscribers SET
  created_at = timestamptz '2025-01-01' + (id % 700) * interval '1 day' + (id % 1440) * interval '1 minute',
  confirmed_at = CASE WHEN status <> 'pending'
                 THEN timestamptz '2025-01-01' + (id % 700) * interval '1 day' + interval '2 hours' END,
  unsubscribed_at = CASE WHEN status = 'unsubscribed'
                    THEN timestamptz '2025-01-01' + (id % 700) * interval '1 day' + interval '20 days' END,
  suppressed_at = CASE WHEN status = 'suppressed'
                  THEN timestamptz '2025-01-01' + (id % 700) * interval '1 day' + interval '30 days' END;

INSERT INTO structures (name, kind, commune, departement, feed_failures, created_at)
SELECT 'Structure ' || n, (ARRAY['centre_social','evs','association','ville','caf'])[1 + n % 5], 'Bobigny', '93', 0,
       timestamptz '2024-01-01' + n * interval '3 days'
FROM generate_series(1, 300) AS n;

INSERT INTO contributions (structure_id, kind, status, title, body_md, source, created_at, updated_at,
                           submitted_at)
SELECT (SELECT min(id) FROM structures) + n % 300,
       (ARRAY['actualite','evenement','fiche_action','ressource','appel_a_projets'])[1 + n % 5],
       (ARRAY['submitted','accepted','published','rejected','changes_requested'])[1 + n % 5],
       'Contribution ' || n, '', 'partner',
       timestamptz '2025-06-01' + n * interval '4 hours', timestamptz '2025-06-01' + n * interval '4 hours',
       timestamptz '2025-06-01' + n * interval '4 hours'
FROM generate_series(1, 3000) AS n;

INSERT INTO contribution_transitions (contribution_id, from_status, to_status, at)
SELECT id, 'submitted', status, submitted_at + (id % 9) * interval '1 day'
FROM contributions WHERE status <> 'submitted';

INSERT INTO issues (kind, numero, title, issue_date, edito_md, status, created_at, send_started_at, sent_at)
SELECT CASE WHEN n <= 40 THEN 'letter' ELSE 'invitation' END, CASE WHEN n <= 40 THEN n END, 'Envoi ' || n,
       date '2026-01-05' + n * 6, '', 'sent', timestamptz '2026-01-01',
       timestamptz '2026-01-05' + n * interval '6 days', timestamptz '2026-01-05' + n * interval '6 days 1 hour'
FROM generate_series(1, 50) AS n;

INSERT INTO deliveries (issue_id, subscriber_id, status, attempts)
SELECT i.id, s.id, CASE WHEN s.id % 50 = 0 THEN 'failed' ELSE 'sent' END, 1
FROM issues i
JOIN LATERAL (SELECT id FROM subscribers WHERE id % 50 = i.id % 50 ORDER BY id LIMIT %(per_letter)s) s ON true;

INSERT INTO bounces (subscriber_id, delivery_id, kind, source, received_at)
SELECT subscriber_id, id, (ARRAY['hard','soft','complaint'])[1 + id % 3]::text, 'maildir', timestamptz '2026-06-01'
FROM deliveries WHERE id % 100 = 7;

INSERT INTO events (uid, type, title, description_md, starts_at, ends_at, place, address, access_info,
                    accessibility_info, status, organiser, sequence, reminder_days, created_at, updated_at)
SELECT 'bench-' || n || '@bench',
       (ARRAY['soiree_reaap','journee_porteurs','rencontre_clas','formation','autre'])[1 + n % 5],
       'Événement ' || n, '', timestamptz '2026-01-10' + n * interval '1 day 18 hours',
       timestamptz '2026-01-10' + n * interval '1 day 18 hours' + interval '2 hours', '', '', '', '', 'scheduled', '',
       0, '7,1',
       timestamptz '2025-12-01', timestamptz '2025-12-01'
FROM generate_series(1, 200) AS n;

INSERT INTO registrations (event_id, name, email, structure, role, accessibility_needs, party_size, status, position,
                           token, created_at, attended)
SELECT e.id, 'P ' || r, 'p' || r || '.' || e.id || '@exemple.fr', 'Structure ' || (r % 40), 'Fonction ' || (r % 7), '',
       1 + r % 3, CASE WHEN r > 27 THEN 'waitlisted' ELSE 'confirmed' END, r, md5(e.id || '-' || r),
       timestamptz '2025-12-15', r % 4 <> 0
FROM events e, generate_series(1, 30) AS r;
"""


def seed_world(url: str, per_letter: int) -> None:
    import psycopg
    plain = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain) as conn:
        conn.execute(WORLD_SQL.replace("%(per_letter)s", str(int(per_letter))))
        # Unsubscribes through a letter's link: the proof names the issue (subscribers/services.py).
        conn.execute("""
            INSERT INTO consent_records (subscriber_id, action, source, details, at)
            SELECT d.subscriber_id, 'unsubscribe:one-click', 'formulaire', json_build_object('issue_id', d.issue_id),
                   timestamptz '2026-06-01'
            FROM deliveries d WHERE d.id % 40 = 3""")
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--per-letter", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="Keep the database (its name is printed).")
    args = parser.parse_args()

    import psycopg
    name = f"parentalites_bench_stats_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    data_dir = Path(tempfile.mkdtemp(prefix="bench-stats-"))
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
        seed_world(url, args.per_letter)
        print(f"seeded {args.subscribers} subscribers, 50 mail-outs x {args.per_letter} deliveries, 200 events "
              f"in {time.perf_counter() - started:.1f} s", flush=True)

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
        year = {"du": "2026-01-01", "au": "2026-12-31"}

        def baseline() -> None:
            with db.get_engine().connect() as conn:
                conn.execute(text("SELECT count(*) FROM subscribers")).scalar()

        def get(path: str, expect: bytes):
            def run() -> None:
                response = client.get(path, query_string=year)
                assert response.status_code == 200, (path, response.status_code)
                assert expect in response.data[:4000] or expect in response.data, expect
            return run

        measures = [
            ("baseline: SELECT count(*)", baseline, args.repeat),
            ("page /redaction/statistiques/ (2026)", get("/redaction/statistiques/", "Lettre n°40".encode()),
             args.repeat),
            ("plot abonnes_par_mois.svg", get("/redaction/statistiques/abonnes_par_mois.svg", b"<svg"), args.repeat),
            ("CSV envois.csv", get("/redaction/statistiques/envois.csv", "Envoyés".encode()), args.repeat),
            ("bilan 2026 PDF", get("/redaction/statistiques/bilan/2026.pdf", b"%PDF"), max(3, args.repeat // 5)),
        ]
        results = {}
        base = None
        for label, fn, repeat in measures:
            times = timed(fn, repeat)
            median = statistics.median(times)
            base = base or median
            results[label] = median
            print(f"{label:45s} median {median * 1000:8.1f} ms  p95 {p95(times) * 1000:8.1f} ms  "
                  f"x{median / base:7.1f} baseline  ({len(times)} runs)", flush=True)
        with db.get_engine().connect() as conn:
            deliveries = conn.execute(text("SELECT count(*) FROM deliveries")).scalar()
        print(f"(deliveries: {deliveries})")
        print(f"page_median_ms: {results['page /redaction/statistiques/ (2026)'] * 1000:.1f}")
        print(f"plot_median_ms: {results['plot abonnes_par_mois.svg'] * 1000:.1f}")
        print(f"pdf_median_ms: {results['bilan 2026 PDF'] * 1000:.1f}")
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
