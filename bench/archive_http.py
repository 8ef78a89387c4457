#!/usr/bin/env python
"""Benchmark of HTTP caching of the archive (issue 14, item 4): requests per second of `/lettres/1/`
served by gunicorn (as in production: the Dockerfile's command), with and without a conditional GET.

    .venv/bin/python bench/archive_http.py [--duration 10] [--connections 16] [--workers 2] [--backend pg|sqlite]

Publishes a letter n°1 of 20 articles (bench/letter_pdf.py's letter) in a PostgreSQL database made for
the run (`BENCH_PG_ADMIN_URL`, dropped at the end) or a SQLite file, starts gunicorn on a free port
(--workers processes of 4 threads), then runs `wrk` (Debian package `wrk`) on the page:

- before: a plain GET each time (what every request cost before this change: the page rendered);
- after: the same GET with `If-None-Match` (the ETag the first answer gave), as a browser or a cache
  revalidating its copy sends it: a 304 made without rendering anything;

and the same pair for `/lettres/1.pdf`. Prints wrk's requests/s and the lines
`rps_before: N`, `rps_after: N`, `ratio: X.X` (for `/lettres/1/`).
"""
from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wrk(url: str, duration: int, connections: int, headers: dict[str, str]) -> tuple[float, str]:
    command = ["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency"]
    for name, value in headers.items():
        command += ["-H", f"{name}: {value}"]
    output = subprocess.run([*command, url], capture_output=True, text=True, check=True).stdout
    match = re.search(r"Requests/sec:\s+([0-9.]+)", output)
    if not match:
        raise SystemExit(f"wrk gave no rate:\n{output}")
    statuses = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return float(match.group(1)), (f"{statuses.group(1)} non-2xx/3xx answers" if statuses else "all 2xx/3xx")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--backend", choices=("pg", "sqlite"), default="pg")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is missing: apt-get install wrk")

    import letter_pdf as pdf_bench  # bench/letter_pdf.py: the same letter
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    pg_name = None
    if args.backend == "pg":
        import psycopg
        pg_name = f"parentalites_bench_{os.getpid()}_{random.randrange(10**6)}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{pg_name}"')
        url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{pg_name}"
    else:
        url = f"sqlite:///{work / 'bench.sqlite'}"
    server = None
    try:
        pdf_bench.setup(work, url)  # the environment gunicorn inherits, too
        pdf_bench.make_letter(1, 20, 8, random.Random(12))
        port = free_port()
        env = {**os.environ, "WEB_CONCURRENCY": str(args.workers)}
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "--bind", f"127.0.0.1:{port}", "--threads", "4",
             "--log-level", "warning", "parentalites.app:create_app()"],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        base = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/lettres/1/", timeout=5).read()
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise SystemExit("gunicorn did not answer")
        results = {}
        for path in ("/lettres/1/", "/lettres/1.pdf"):
            with urllib.request.urlopen(base + path, timeout=60) as answer:  # the PDF is made here, once
                etag = answer.headers["ETag"]
                cache_control = answer.headers["Cache-Control"]
            request = urllib.request.Request(base + path, headers={"If-None-Match": etag})
            try:
                urllib.request.urlopen(request, timeout=10)
                raise SystemExit(f"{path}: no 304 for its own ETag")
            except urllib.error.HTTPError as error:
                assert error.code == 304, error.code
            before, before_status = wrk(base + path, args.duration, args.connections, {"Accept-Language": "fr"})
            after, after_status = wrk(base + path, args.duration, args.connections,
                                      {"Accept-Language": "fr", "If-None-Match": etag})
            results[path] = (before, after)
            print(f"{path}: ETag {etag}, Cache-Control: {cache_control}")
            print(f"  before (plain GET, 200): {before:8.0f} requests/s ({before_status})")
            print(f"  after  (If-None-Match, 304): {after:8.0f} requests/s ({after_status}), ×{after / before:.1f}")
        before, after = results["/lettres/1/"]
        print(f"gunicorn: {args.workers} workers × 4 threads, wrk: 2 threads, {args.connections} connections, "
              f"{args.duration} s each, database: {args.backend}")
        print(f"rps_before: {before:.0f}")
        print(f"rps_after: {after:.0f}")
        print(f"ratio: {after / before:.1f}")
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        from core import db
        db.reset_engine()
        if pg_name:
            import psycopg
            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
