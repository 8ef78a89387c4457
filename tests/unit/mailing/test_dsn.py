"""Bounce classification (mailing/dsn.py), checked on the public corpora of ../shared/corpora/bounces/
against their manifests."""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

from mailing import dsn
from mailing.dsn import classify
from tests.conftest import shared_path

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "bounces"

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
    # Exact counts (issue 13, item 18): a change that loses one message shows here.
    assert {name: tuple(v) for name, v in {**checks, **extra}.items()} == {
        "recipients": (111, 111), "permanent/temporary": (101, 101), "bounce / not a bounce": (38, 38),
        "reason (std_reason, informative)": (25, 26)}, summary
    assert (agreed, total) == (250, 250), summary


# --- Our own corpus, per weak class (tests/fixtures/bounces, invented messages) -----------------

def _own_corpus() -> list[dict[str, str]]:
    with (FIXTURES / "MANIFEST.csv").open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_own_corpus_is_classified_on_evidence_with_exact_counts_per_class():
    rows = _own_corpus()
    listed = {row["file"] for row in rows}
    on_disk = {str(p.relative_to(FIXTURES)) for p in FIXTURES.glob("*/*.eml")}
    assert listed == on_disk
    got: dict[str, Counter] = {}
    wrong = []
    for row in rows:
        report = classify((FIXTURES / row["file"]).read_bytes())
        klass = row["file"].split("/")[0]
        got.setdefault(klass, Counter())[report.kind] += 1
        if (report.kind, report.rule, report.recipients) != (row["kind"], row["rule"], {row["recipient"]}):
            wrong.append(f"{row['file']}: expected {row['kind']}/{row['rule']}/{row['recipient']}, got "
                         f"{report.kind}/{report.rule}/{sorted(report.recipients)} "
                         f"({report.status} {report.diagnostic})")
        assert report.rule in dsn.RULES
    assert not wrong, "\n".join(wrong)
    assert got == {
        "policy": Counter(soft=5, hard=1),          # spam / provider policy with 5.x.x: not proof
        "greylisting": Counter(soft=3),             # 4.x.x "user unknown": not proof
        "exchange_online": Counter(hard=2, soft=2),  # NDRs without a delivery-status part
        "yahoo": Counter(hard=2, soft=2),           # plain-text "Failure Notice"
        "ses": Counter(hard=1, soft=2, complaint=1),  # Amazon SES / SNS JSON by e-mail
        "mailbox_full": Counter(soft=3),            # a full mailbox wrapped in a 5.x.x reply
        "dead": Counter(hard=3),                    # real evidence stays hard
    }


# --- Bounded parsing (issue 13, item 2) ---------------------------------------------------------

HOSTILE_HEAD = b"From: MAILER-DAEMON@mx.exemple.test\nTo: lettre@parentalites.test\nSubject: Undelivered Mail\n\n"


def test_the_parser_never_sees_more_than_the_cap(monkeypatch):
    seen: list[bytes] = []
    parse = dsn._parse
    monkeypatch.setattr(dsn, "_parse", lambda raw: seen.append(raw) or parse(raw))
    for body in (b"\n" * 160 * 1024, b"x" * 160 * 1024, b"a\n" * 80 * 1024):
        seen.clear()
        classify(HOSTILE_HEAD + body)
        assert seen and all(len(raw) <= dsn.MAX_PARSE_BYTES for raw in seen)
        assert all(raw.count(b"\n") <= dsn.MAX_PARSE_LINES for raw in seen)
        assert all(len(line) <= dsn.MAX_LINE_BYTES for raw in seen for line in raw.split(b"\n"))
    assert dsn.bounded(b"court\n") == b"court\n"


def test_a_marker_of_the_returned_original_never_spans_lines():
    """A pattern anchored at a line start that may swallow the following blank lines costs the
    square of the number of lines: markers stay on their own line."""
    text = "\n" * 50 + "   ------ original message follows ------\n"
    match = dsn.ORIGINAL_MARKERS.search(text)
    assert match is not None and "\n" not in match.group(0)
    for pattern in (dsn.ORIGINAL_MARKERS, dsn.FAILED_INTRO):
        assert pattern.search("\n" * 1000) is None
