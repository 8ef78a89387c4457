"""Bounce classification (mailing/dsn.py), checked on the public corpora of ../shared/corpora/bounces/
against their manifests."""
from __future__ import annotations

import csv
from pathlib import Path

from mailing.dsn import classify
from tests.conftest import shared_path

PERMANENT_REASONS = {"user_unknown", "domain_error", "user_disabled"}
PASSING_REASONS = {"over_quota", "message_too_large", "spam"}


def _expectations(root: Path) -> dict[str, dict]:
    """One entry per listed message, merging manifest rows that name the same file."""
    expected: dict[str, dict] = {}
    for manifest in sorted(root.glob("*/MANIFEST.csv")):
        with manifest.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                entry = expected.setdefault(row["file"], {"recipients": set(), "failure": None,
                                                          "is_bounce": None, "reason": None})
                named = row.get("expected_recipients") or row.get("expected_addresses") or ""
                entry["recipients"] |= {a.lower() for a in named.split()}
                if row.get("failure_kind") in ("permanent", "temporary"):
                    entry["failure"] = row["failure_kind"]
                if row.get("is_bounce") in ("0", "1"):
                    entry["is_bounce"] = row["is_bounce"] == "1"
                reason = (row.get("std_reason") or "").split(" ")[0]
                entry["reason"] = reason or None
    return expected


def test_corpus_classification_agrees_with_the_manifests():
    root = shared_path("corpora", "bounces")
    expected = _expectations(root)
    messages = sorted(p for p in root.glob("*/*") if p.is_file() and p.name != "MANIFEST.csv")
    assert messages and expected
    unlisted = [str(p.relative_to(root)) for p in messages if str(p.relative_to(root)) not in expected]
    checks = {"recipients": [0, 0], "permanent/temporary": [0, 0], "bounce / not a bounce": [0, 0]}
    extra = {"reason (std_reason, informative)": [0, 0]}
    disagreements: list[str] = []
    notes: list[str] = []

    def check(table, name, ok, where, detail):
        table[name][1] += 1
        if ok:
            table[name][0] += 1
        else:
            (disagreements if table is checks else notes).append(f"{where}: {name}: {detail}")

    kinds: dict[str, int] = {}
    for path in messages:
        rel = str(path.relative_to(root))
        report = classify(path.read_bytes())
        kinds[report.kind] = kinds.get(report.kind, 0) + 1
        entry = expected.get(rel)
        if entry is None:
            continue
        got = f"kind={report.kind} status={report.status} recipients={sorted(report.recipients)}"
        if entry["recipients"]:
            missing = entry["recipients"] - report.recipients
            check(checks, "recipients", not missing, rel, f"missing {sorted(missing)}; {got}")
        if entry["failure"] == "permanent":
            check(checks, "permanent/temporary", report.kind in ("hard", "soft"), rel,
                  f"expected a final failure; {got}")
        elif entry["failure"] == "temporary":
            check(checks, "permanent/temporary", report.kind == "delayed", rel, f"expected a delay warning; {got}")
        if entry["is_bounce"] is not None:
            check(checks, "bounce / not a bounce", report.is_failure == entry["is_bounce"], rel,
                  f"expected {'a bounce' if entry['is_bounce'] else 'no bounce'}; {got}")
        if entry["reason"] in PERMANENT_REASONS | PASSING_REASONS and entry["is_bounce"]:
            want = "hard" if entry["reason"] in PERMANENT_REASONS else "soft"
            check(extra, "reason (std_reason, informative)", report.kind == want, rel,
                  f"{entry['reason']} → expected {want}; {got}")

    agreed = sum(ok for ok, _ in checks.values())
    total = sum(n for _, n in checks.values())
    rate = agreed / total
    lines = [f"bounce corpus: {len(messages)} messages ({len(unlisted)} not in a manifest), "
             f"kinds {dict(sorted(kinds.items()))}"]
    lines += [f"  {name}: {ok}/{n}" for name, (ok, n) in {**checks, **extra}.items()]
    lines.append(f"AGREEMENT RATE: {agreed}/{total} = {rate:.1%}")
    lines += [f"  DISAGREES {d}" for d in disagreements]
    lines += [f"  note {d}" for d in notes]
    summary = "\n".join(lines)
    print("\n" + summary)
    assert not unlisted, summary
    assert rate >= 0.95, summary
