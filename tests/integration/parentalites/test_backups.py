"""`parentalites backup` and `restore` on the real PostgreSQL (a second database, created and
dropped here, receives the restore) and on SQLite files."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from datetime import date

import psycopg
import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from contributions.models import Contribution, ContributionFile
from core.db import Base
from newsletter.models import Issue, IssueStatus
from parentalites import backups
from subscribers.models import Subscriber, SubscriberStatus
from tests.conftest import PG_ADMIN_URL, TEST_DB, pg_url
from tests.integration.helpers import compose, people

PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40


@pytest.fixture
def second_database():
    name = f"{TEST_DB}_restore"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield pg_url(name)
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _data_dir(root, key: str = "clé-de-la-prod"):
    data_dir = root / "donnees"
    (data_dir / "uploads" / "images").mkdir(parents=True)
    (data_dir / "uploads" / "images" / "affiche.png").write_bytes(b"\x89PNG" + bytes(range(200)))
    (data_dir / "uploads" / "lisez-moi.txt").write_text("Pièces jointes", encoding="utf-8")
    (data_dir / "secret_key").write_text(key)
    return data_dir


def _world_with_a_letter(db, world):
    issue = compose(db, world, numero=4, articles=2)
    issue.status = IssueStatus.sent
    contribution = db.scalars(select(Contribution).order_by(Contribution.id)).first()
    db.add(ContributionFile(contribution_id=contribution.id, kind="pdf", filename="programme.pdf",
                            content_type="application/pdf", size=len(PDF), sha256=hashlib.sha256(PDF).hexdigest(),
                            data=PDF))
    people(db, 3)
    db.commit()


def _what_is_in(url: str) -> dict:
    engine = create_engine(url)
    try:
        with Session(engine) as db:
            return {
                "letters": [(i.numero, i.title, i.status) for i in db.scalars(select(Issue).order_by(Issue.numero))],
                "subscribers": [(s.email, s.status) for s in db.scalars(select(Subscriber).order_by(Subscriber.email))],
                "files": [(f.filename, hashlib.sha256(f.data).hexdigest())
                          for f in db.scalars(select(ContributionFile))],
            }
    finally:
        engine.dispose()


def _tree(directory) -> dict:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_a_postgresql_backup_restored_into_a_fresh_database_has_the_same_letters_subscribers_and_files(
        db, world, tmp_path, second_database):
    _world_with_a_letter(db, world)
    data_dir = _data_dir(tmp_path)
    outcome = backups.backup(tmp_path / "sauvegarde", os.environ["DATABASE_URL"], data_dir)
    manifest = json.loads((tmp_path / "sauvegarde" / "manifest.json").read_text())
    assert manifest == outcome.manifest
    assert set(manifest["files"]) == {"database.pgdump", "uploads.tar", "secret_key"}
    assert manifest["alembic_revision"] and manifest["versions"]["postgresql"] and "pg_dump" in manifest["versions"]
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((tmp_path / "sauvegarde" / name).read_bytes()).hexdigest() == entry["sha256"]

    restored_dir = tmp_path / "restauree"
    backups.restore(tmp_path / "sauvegarde", second_database, restored_dir)
    before, after = _what_is_in(os.environ["DATABASE_URL"]), _what_is_in(second_database)
    assert after == before
    assert [numero for numero, *_ in after["letters"]] == [4] and len(after["subscribers"]) == 3
    assert after["files"] == [("programme.pdf", hashlib.sha256(PDF).hexdigest())]
    assert _tree(restored_dir / "uploads") == _tree(data_dir / "uploads")
    assert (restored_dir / "secret_key").read_text() == "clé-de-la-prod"

    # Now the second database holds data: refused without --force, replaced with it.
    with pytest.raises(backups.BackupError, match="contient déjà des données.*--force"):
        backups.restore(tmp_path / "sauvegarde", second_database, restored_dir)
    backups.restore(tmp_path / "sauvegarde", second_database, restored_dir, force=True)
    assert _what_is_in(second_database) == before


def _spoiled_copies(source, tmp_path) -> dict:
    """name -> (a broken copy of the backup, the message expected)."""
    dump = next(name for name in ("database.pgdump", "database.sqlite") if (source / name).exists())
    copies = {}

    def copy(name):
        target = tmp_path / name
        shutil.copytree(source, target)
        return target

    flipped = copy("octet-change")
    data = bytearray((flipped / dump).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (flipped / dump).write_bytes(bytes(data))
    copies["flipped"] = (flipped, "somme de contrôle SHA-256")
    truncated = copy("tronquee")
    (truncated / dump).write_bytes((truncated / dump).read_bytes()[: (truncated / dump).stat().st_size // 2])
    copies["truncated"] = (truncated, "tronqué")
    no_manifest = copy("sans-manifeste")
    (no_manifest / "manifest.json").unlink()
    copies["no manifest"] = (no_manifest, "manifest.json manque")
    cut_manifest = copy("manifeste-tronque")
    text = (cut_manifest / "manifest.json").read_text()
    (cut_manifest / "manifest.json").write_text(text[: len(text) // 2])
    copies["cut manifest"] = (cut_manifest, "illisible ou tronqué")
    missing = copy("fichier-manquant")
    (missing / "uploads.tar").unlink()
    copies["missing file"] = (missing, "uploads.tar manque")
    return copies


def test_a_corrupted_or_truncated_backup_is_refused_in_french_and_nothing_is_overwritten(
        db, world, tmp_path, second_database):
    _world_with_a_letter(db, world)
    data_dir = _data_dir(tmp_path)
    backups.backup(tmp_path / "sauvegarde", os.environ["DATABASE_URL"], data_dir)
    target_dir = _data_dir(tmp_path / "cible", key="clé-de-la-cible")
    backups.restore(tmp_path / "sauvegarde", second_database, target_dir, force=True)
    with Session(create_engine(second_database)) as other:
        other.add(Subscriber(email="arrivee-apres@example.org", status=SubscriberStatus.active))
        other.commit()
        other.get_bind().dispose()
    before_db, before_files = _what_is_in(second_database), _tree(target_dir)
    for case, (broken, message) in _spoiled_copies(tmp_path / "sauvegarde", tmp_path).items():
        with pytest.raises(backups.BackupError, match=message) as refused:
            backups.restore(broken, second_database, target_dir, force=True)
        assert "Rien n'a été modifié" in str(refused.value), case
        assert _what_is_in(second_database) == before_db, case
        assert _tree(target_dir) == before_files, case


def test_the_commands_say_what_they_did_and_refuse_a_broken_backup_with_exit_status_1(db, world, tmp_path):
    from parentalites.cli import main
    _world_with_a_letter(db, world)
    runner = CliRunner()
    result = runner.invoke(main, ["backup", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    assert "Sauvegarde écrite dans" in result.output
    result = runner.invoke(main, ["backup", str(tmp_path / "b")])
    assert result.exit_code == 1 and "n'est pas vide" in result.output
    (tmp_path / "b" / "database.pgdump").write_bytes(b"PGDMP tronque")
    result = runner.invoke(main, ["restore", str(tmp_path / "b")])
    assert result.exit_code == 1
    assert "Restauration refusée : Sauvegarde corrompue : database.pgdump fait 13 octets" in result.output
    result = runner.invoke(main, ["restore", str(tmp_path / "sans-sauvegarde")])
    assert result.exit_code == 1 and "n'est pas un dossier de sauvegarde" in result.output


def _sqlite_with_people(path, count: int) -> str:
    url = f"sqlite:///{path}"
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with Session(engine) as other:
        other.add_all([Subscriber(email=f"lecteur{n}@example.org", status=SubscriberStatus.active)
                       for n in range(count)])
        other.add(Issue(numero=9, title="Lettre n°9", issue_date=date(2026, 11, 1),
                        status=IssueStatus.sent))
        other.commit()
    engine.dispose()
    return url


def test_a_sqlite_backup_made_with_the_online_api_restores_into_a_fresh_file(run_database, tmp_path):
    source = _sqlite_with_people(tmp_path / "prod.sqlite", 4)
    data_dir = _data_dir(tmp_path)
    outcome = backups.backup(tmp_path / "sauvegarde", source, data_dir)
    assert outcome.manifest["database"] == {"backend": "sqlite", "file": "database.sqlite"}
    target = f"sqlite:///{tmp_path / 'neuve' / 'parentalites.sqlite'}"
    backups.restore(tmp_path / "sauvegarde", target, tmp_path / "neuve")
    assert _what_is_in(target) == _what_is_in(source)
    assert len(_what_is_in(target)["subscribers"]) == 4
    assert _tree(tmp_path / "neuve" / "uploads") == _tree(data_dir / "uploads")
    with pytest.raises(backups.BackupError, match="--force"):
        backups.restore(tmp_path / "sauvegarde", target, tmp_path / "neuve")
    for case, (broken, message) in _spoiled_copies(tmp_path / "sauvegarde", tmp_path / "abimees").items():
        with pytest.raises(backups.BackupError, match=message):
            backups.restore(broken, target, tmp_path / "neuve", force=True)
        assert len(_what_is_in(target)["subscribers"]) == 4, case
