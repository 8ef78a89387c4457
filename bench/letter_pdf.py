#!/usr/bin/env python
"""Benchmark of the letter's PDF (`/lettres/<numero>.pdf`, newsletter/letter_pdf.py).

    .venv/bin/python bench/letter_pdf.py [--articles 20] [--images 8] [--repeat 3] [--keep FILE]

Composes, in a SQLite database of a temporary directory (after the Alembic migrations), a letter
of --articles articles across the rubriques (French text of a few paragraphs each, --images of them
with a 1600×1000 photo-like image, re-encoded by the upload path as a partner's would be), compiles
it as the mail-out does and publishes it, then times `render_pdf` (WeasyPrint, images read from
the database) --repeat times after one warm-up (fonts, Pango), and the same for a one-article
letter as the baseline measured in the same run. Prints the medians, pages and size, and last the
lines `letter_pdf_seconds: X.XX` (wall time; target: under 5 s), `letter_pdf_cpu_seconds: X.XX`
and `ratio_to_one_article: X.X`.
"""
from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

_WORDS = ("parents enfants soirée rencontre échanges accompagnement scolarité collège centre social "
         "ateliers familles écoute bénévoles quartier crèche santé sommeil écrans lecture jeux sortie "
         "partenaires CAF Réaap projet porteurs CLAS devoirs adolescents médiathèque jardin goûter")
WORDS = _WORDS.split()


def paragraph(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def photo(rng: random.Random) -> bytes:
    from PIL import Image, ImageDraw
    image = Image.new("RGB", (1600, 1000), (rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    draw = ImageDraw.Draw(image)
    for _ in range(200):  # shapes: something JPEG has to work at, like a photo
        x, y = rng.randrange(1600), rng.randrange(1000)
        draw.ellipse((x, y, x + rng.randrange(20, 300), y + rng.randrange(20, 300)),
                     fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def setup(work: Path, database_url: str | None = None) -> None:
    os.environ.update({"DATABASE_URL": database_url or f"sqlite:///{work / 'bench.sqlite'}",
                       "PARENTALITES_DATA_DIR": str(work),
                       "CELERY_BROKER_URL": "memory://", "SECRET_KEY": "bench",
                       "BASE_URL": "https://parentalites.example.org"})
    from core import db, settings
    settings.reset_settings()
    db.reset_engine()
    from parentalites.bootstrap import bootstrap
    from parentalites.migrate import upgrade
    upgrade()
    bootstrap()


def make_letter(numero: int, articles: int, images: int, rng: random.Random) -> int:
    from accounts.auth import create_user
    from accounts.models import Role
    from contributions import services as contributions
    from contributions.models import ContributionKind, ContributionStatus, Structure, StructureKind
    from contributions.uploads import process_image
    from core.db import session, utcnow
    from newsletter import issues, mailout
    from newsletter.models import IssueStatus
    db = session()
    structure = Structure(name=f"Centre social n°{numero}", kind=StructureKind.centre_social, commune="Bobigny")
    db.add(structure)
    db.flush()
    editor = create_user(db, f"redaction{numero}@bench.test", "Claire Martin", Role.editor, None)
    partner = create_user(db, f"partenaire{numero}@bench.test", "Amina Benali", Role.partner, None, structure.id)
    issue = issues.create_issue(db, editor, numero, f"Lettre de banc d'essai n°{numero}", date(2026, 10, 1),
                                paragraph(rng, 80))
    kinds = [ContributionKind.actualite]  # the others ask for more fields; the layout is the same
    rubriques = ["actualites", "parentalite", "clas", "retour_soiree", "ressources", "appels_a_projets"]
    for n in range(articles):
        body = "\n\n".join(paragraph(rng, rng.randint(40, 90)) for _ in range(rng.randint(2, 4)))
        files = ([process_image(photo(rng), f"photo{n}.jpg", f"Photo de l'article {n + 1}")]
                 if n < images else None)
        c = contributions.create(db, partner, contributions.ContributionData(
            kind=kinds[n % len(kinds)], title=f"Article {n + 1} : {paragraph(rng, 6)[:-1]}", body_md=body),
            files=files)
        contributions.decide(db, editor, c, ContributionStatus.accepted)
        issues.add_item(db, issue, c, rubriques[n % len(rubriques)])
    mailout.compile_issue(db, issue)
    issue.status, issue.sent_at, issue.published_at = IssueStatus.sent, utcnow(), utcnow()
    db.commit()
    return issue.id


def time_pdf(issue_id: int, repeat: int) -> tuple[float, float, bytes]:
    from core.db import session
    from newsletter import letter_pdf
    from newsletter.models import Issue
    db = session()
    issue = db.get(Issue, issue_id)
    times, cpu, data = [], [], b""
    for _ in range(repeat):
        started, started_cpu = time.perf_counter(), time.process_time()
        data = letter_pdf.render_pdf(db, issue)
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return statistics.median(times), statistics.median(cpu), data


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=20)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the big letter's PDF there (to look at it)")
    args = parser.parse_args()
    rng = random.Random(12)
    with tempfile.TemporaryDirectory(prefix="bench-pdf-") as tmp:
        setup(Path(tmp))
        big = make_letter(1, args.articles, args.images, rng)
        small = make_letter(2, 1, 0, rng)
        time_pdf(small, 1)  # warm-up: WeasyPrint's import, fonts, Pango
        one, _, _ = time_pdf(small, args.repeat)
        seconds, cpu, data = time_pdf(big, args.repeat)
        import pypdf
        pages = len(pypdf.PdfReader(io.BytesIO(data)).pages)
        if args.keep:
            args.keep.write_bytes(data)
    print(f"one-article letter: {one:.2f} s (median of {args.repeat})")
    print(f"{args.articles}-article letter, {args.images} images: {seconds:.2f} s (median of {args.repeat}), "
          f"{pages} pages, {len(data) // 1024} KiB; CPU time {cpu:.2f} s (the wall time includes waiting for "
          f"a core on a busy machine: `uptime` says how busy)")
    print(f"letter_pdf_seconds: {seconds:.2f}")
    print(f"letter_pdf_cpu_seconds: {cpu:.2f}")
    print(f"ratio_to_one_article: {seconds / one:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
