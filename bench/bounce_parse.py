"""Cost of classifying one bounce (mailing.dsn.classify): hostile inputs of 10, 40 and 160 KB against
a normal DSN of our own test corpus. Prints milliseconds per message and the ratio to the normal one.

    .venv/bin/python bench/bounce_parse.py

Each parse reads at most mailing.dsn.MAX_PARSE_BYTES bytes and MAX_PARSE_LINES lines of a message,
with patterns that never span lines: the cost stops growing once a message passes the cap."""
from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "bench")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mailing import dsn  # noqa: E402

HEAD = (b"From: Mail Delivery System <MAILER-DAEMON@mx.exemple.test>\nTo: lettre@parentalites.test\n"
        b"Subject: Undelivered Mail Returned to Sender\n\n")
NORMAL = (Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "bounces" / "dead"
          / "postfix-user-unknown.eml").read_bytes()


def hostile(kind: str, size: int) -> bytes:
    unit = {"blank lines": b"\n", "blank lines with spaces": b" \n", "one long line": b"x",
            "address-like runs": b"a.a.a.a.a.a.a.a@", "intro lines": b"the following addresses failed x\n"}[kind]
    return HEAD + unit * (size // len(unit))


def ms_per_message(raw: bytes, rounds: int = 5) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        dsn.classify(raw)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    normal = ms_per_message(NORMAL, 20)
    print(f"cap: first {dsn.MAX_PARSE_BYTES // 1024} KB, at most {dsn.MAX_PARSE_LINES} lines")
    print(f"normal DSN ({len(NORMAL)} bytes): {normal:.2f} ms")
    for kind in ("blank lines", "blank lines with spaces", "one long line", "address-like runs", "intro lines"):
        for kb in (10, 40, 160):
            cost = ms_per_message(hostile(kind, kb * 1024))
            print(f"{kind:>24} {kb:>4} KB: {cost:8.2f} ms  ({cost / normal:5.1f} × normal)")


if __name__ == "__main__":
    main()
