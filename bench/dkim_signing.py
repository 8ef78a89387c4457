"""DKIM signing cost per letter: messages per second without signing, with dkimpy's `dkim.sign`
and with the fast signer of `mailing.dkim`, on a letter of about 140 KB built like the mail-out
builds it (the real MJML and text templates, compiled once, slots filled, then `build_message`).

    .venv/bin/python bench/dkim_signing.py [--seconds 3] [--rounds 5] [--items 28]

A benchmark, not a test: it asserts nothing but that every signature verifies. No SMTP: the rates
are those of making the bytes of each message, the part that signing slows down.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
# This file is named dkim.py: keep its folder off the path, or `import dkim` would find it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != HERE]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("PARENTALITES_DATA_DIR", tempfile.mkdtemp(prefix="parentalites-bench-"))
os.environ.setdefault("SECRET_KEY", "bench")
os.environ.setdefault("BASE_URL", "https://parentalites.example")
os.environ.setdefault("MAIL_FROM", "Lettre Parentalités <lettre@parentalites.example>")

import dkim  # noqa: E402
from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402

from contributions.models import Contribution, ContributionKind, Structure  # noqa: E402
from contributions.rubriques import RUBRIQUES  # noqa: E402
from mailing.dkim import DKIMSigner, public_key_record  # noqa: E402
from mailing.engine import CompiledLetter, greeting, letter_headers  # noqa: E402
from mailing.mime import build_message  # noqa: E402
from newsletter.mailout import render_letter  # noqa: E402
from newsletter.models import Issue, IssueItem, IssueKind  # noqa: E402
from parentalites import models  # noqa: E402,F401  every mapper configured

DOMAIN, SELECTOR = "parentalites.example", "bench"

BODY = """Les **ateliers parents-enfants** reprennent à la médiathèque à partir du mois prochain : \
jeux, lectures et temps d'échange entre parents, animés par l'équipe du centre social et une \
psychologue du Réaap. L'accès est libre et gratuit, sans inscription pour les premières séances.

- le mardi de 9 h 30 à 11 h, pour les tout-petits et leurs parents ;
- le mercredi de 14 h à 16 h 30, pour les enfants de 3 à 10 ans ;
- un samedi par mois, une soirée « parents seulement » autour d'un thème choisi ensemble.

Vous accompagnez des familles et souhaitez relayer l'information ? Une affiche et un flyer sont \
disponibles à l'accueil ; n'hésitez pas à les demander, ou à nous écrire pour en recevoir par \
courrier. Merci à toutes les structures qui font vivre ce réseau d'écoute et d'appui."""


def fake_issue(items: int) -> Issue:
    """A letter of `items` contributions, as transient model objects (no database needed)."""
    structure = Structure(name="Centre social Les Tilleuls", commune="Saint-Étienne")
    issue = Issue(kind=IssueKind.letter, numero=42, title="Spécial rentrée : les ateliers reprennent",
                  issue_date=date(2026, 9, 3), edito_md="Bonne rentrée à toutes et à tous !")
    for n in range(items):
        contribution = Contribution(
            kind=ContributionKind.evenement if n % 3 == 0 else ContributionKind.actualite,
            title=f"Ateliers parents-enfants n°{n} : ça reprend à la médiathèque", structure=structure,
            event_start=datetime(2026, 3, 4, 14, 0, tzinfo=UTC) if n % 3 == 0 else None,
            place="Médiathèque Louise-Michel", body_md=BODY,
            link=f"https://tilleuls.example/ateliers/{n}" if n % 2 else None)
        issue.items.append(IssueItem(rubrique=RUBRIQUES[n % len(RUBRIQUES)][0], contribution=contribution, position=n))
    return issue


def message_maker(items: int):
    rendered = render_letter(fake_issue(items))
    letter = CompiledLetter(rendered.subject, rendered.html, rendered.text)
    counter = iter(range(10**9))

    def make() -> bytes:
        n = next(counter)
        unsubscribe_url = f"https://parentalites.example/desabonnement/{n:032x}"
        html_body, text_body = letter.render({"greeting": greeting(f"Camille {n}"), "unsubscribe_url": unsubscribe_url,
                                       "preferences_url": unsubscribe_url})
        return build_message(to=f"Camille {n} <camille{n}@example.org>", subject=letter.subject, text=text_body,
                             html=html_body, message_id=f"<lettre-42.{n}@parentalites.example>",
                             headers=letter_headers(unsubscribe_url))
    return make


def rate(step, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds or count < 3:
        step()
        count += 1
    return count / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per line, all rounds together")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (medians are shown)")
    parser.add_argument("--items", type=int, default=28, help="contributions in the letter (28 ≈ 140 KB)")
    args = parser.parse_args()

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    record = public_key_record(key).encode()
    fast = DKIMSigner(DOMAIN, SELECTOR, key)
    library = DKIMSigner(DOMAIN, SELECTOR, key, engine="dkimpy")
    make = message_maker(args.items)

    sample = make()
    dnsfunc = lambda name, timeout=5: record  # noqa: E731
    for signer in (fast, library):
        assert dkim.verify(signer.sign(sample), dnsfunc=dnsfunc), f"{signer} made a signature that does not verify"

    print(f"message: {len(sample) / 1024:.1f} KiB ({len(sample)} bytes), RSA 2048, relaxed/relaxed, "
          f"{args.seconds:g} s per line in {args.rounds} rounds, "
          f"Python {sys.version.split()[0]}, dkimpy {dkim_version()}")
    rows = [
        ("build_message, no signing", lambda: make()),
        ("build_message + dkim.sign (dkimpy)", lambda: library.sign(make())),
        ("build_message + DKIMSigner (fast)", lambda: fast.sign(make())),
        ("dkim.sign alone (dkimpy)", lambda: library.sign(sample)),
        ("DKIMSigner.sign alone (fast)", lambda: fast.sign(sample)),
    ]
    for _, step in rows:
        step()  # warm up
    # Interleaved rounds, medians: a busy machine slows every line alike instead of one of them.
    rounds: list[dict[str, float]] = []
    for _ in range(args.rounds):
        rounds.append({label: rate(step, args.seconds / args.rounds) for label, step in rows})
    median = {label: statistics.median(r[label] for r in rounds) for label, _ in rows}
    for label, _ in rows:
        print(f"  {label:38s} {median[label]:9.1f} msg/s  {1000 / median[label]:7.2f} ms/msg")
    base, with_dkimpy, with_fast, dkimpy_alone, fast_alone = (label for label, _ in rows)
    ratio = lambda label: statistics.median(r[label] / r[base] for r in rounds)  # noqa: E731
    print(f"rate signed / rate unsigned (median of {args.rounds} rounds): dkimpy {ratio(with_dkimpy):.2f}, "
          f"fast {ratio(with_fast):.2f}; fast signer vs dkimpy, signing alone: "
          f"{median[fast_alone] / median[dkimpy_alone]:.1f}x; load average {os.getloadavg()[0]:.2f}")


def dkim_version() -> str:
    from importlib.metadata import version
    return version("dkimpy")


if __name__ == "__main__":
    main()
