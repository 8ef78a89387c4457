"""`parentalites backup DIR` and `parentalites restore DIR`.

A backup is a directory: the database (PostgreSQL: `pg_dump --format=custom`; SQLite: a copy
made by SQLite's online backup API, consistent while the site runs), the uploads directory as a
tar archive, the secret key file (links already e-mailed stay valid after a restore), and
`manifest.json`, written last: the versions (the platform, the database server and its tools),
the Alembic revision, and the size and SHA-256 of every file.

A restore checks every file against the manifest before it touches anything, refuses a database
that holds data unless forced, then replaces the database in one transaction (pg_restore
--single-transaction; SQLite's backup API copies in one step), and only then the uploads and the
key (what they replace is kept beside them, renamed). Every refusal is a French sentence."""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import platform
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from core.db import utcnow
from core.settings import SECRET_KEY_FILE
from parentalites.models import metadata

MANIFEST = "manifest.json"
FORMAT = 1
PG_DUMP_FILE = "database.pgdump"
SQLITE_FILE = "database.sqlite"
UPLOADS_FILE = "uploads.tar"
KEY_FILE = "secret_key"
PG_TIMEOUT = 3600  # seconds pg_dump or pg_restore may run


class BackupError(Exception):
    """The backup or the restore cannot go on; the message says why, in French."""


@dataclass
class Outcome:
    directory: Path
    manifest: dict
    notes: list[str] = field(default_factory=list)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _conninfo_value(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pg_environment(url: URL) -> tuple[list[str], dict[str, str]]:
    """libpq's connection string for pg_dump/pg_restore (the URL's query too: sslmode…); the
    password goes in the environment, never on the command line (`ps` shows that)."""
    parts = {"dbname": url.database or "", "host": url.host, "port": url.port, "user": url.username}
    for key, value in url.query.items():
        parts[key] = value if isinstance(value, str) else value[-1]
    conninfo = " ".join(f"{key}={_conninfo_value(str(value))}" for key, value in parts.items() if value)
    args = ["--dbname", conninfo]
    env = {**os.environ, "PGCONNECT_TIMEOUT": "10"}
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run(command: list[str], env: dict[str, str], what: str) -> str:
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT, check=False)
    except FileNotFoundError:
        raise BackupError(f"{command[0]} est introuvable : installez les outils clients de PostgreSQL "
                          f"(paquet postgresql-client) de la même version que le serveur.") from None
    if done.returncode != 0:
        raise BackupError(f"{what} a échoué : {done.stderr.strip()[-800:]}")
    return done.stdout


def _revision(connection) -> str | None:
    if not inspect(connection).has_table("alembic_version"):
        return None
    return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()


def _tables_with_rows(connection) -> list[str]:
    """The platform's tables that hold at least one row (not Alembic's, nor a search index's own
    tables, which an empty database fills already)."""
    full = []
    for name in inspect(connection).get_table_names():
        if name not in metadata.tables:
            continue
        quoted = connection.dialect.identifier_preparer.quote(name)
        if connection.execute(text(f"SELECT 1 FROM {quoted} LIMIT 1")).first() is not None:
            full.append(name)
    return full


# --- Backup ------------------------------------------------------------------------------------------

def backup(directory: Path, database_url: str, data_dir: Path) -> Outcome:
    """Write a backup into `directory` (created; it must be empty if it exists)."""
    directory = directory.resolve()
    if directory.exists() and any(directory.iterdir()):
        raise BackupError(f"Le dossier {directory} n'est pas vide : choisissez un nouveau dossier pour chaque "
                          f"sauvegarde (par exemple daté).")
    directory.mkdir(parents=True, exist_ok=True)
    url = make_url(database_url)
    manifest: dict = {"format": FORMAT, "created_at": utcnow().isoformat(),
                      "versions": {"parentalites": importlib.metadata.version("parentalites"),
                                   "python": platform.python_version()},
                      "database": {"backend": url.get_backend_name()}, "files": {}}
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            manifest["alembic_revision"] = _revision(connection)
            if url.get_backend_name() == "postgresql":
                manifest["versions"]["postgresql"] = connection.execute(text("SHOW server_version")).scalar()
    finally:
        engine.dispose()
    if url.get_backend_name() == "postgresql":
        args, env = _pg_environment(url)
        manifest["versions"]["pg_dump"] = _run(["pg_dump", "--version"], env, "pg_dump --version").strip()
        _run(["pg_dump", "--format=custom", "--file", str(directory / PG_DUMP_FILE), *args], env, "pg_dump")
        manifest["database"]["file"] = PG_DUMP_FILE
    else:
        manifest["versions"]["sqlite"] = sqlite3.sqlite_version
        source = sqlite3.connect(url.database or "")
        target = sqlite3.connect(directory / SQLITE_FILE)
        try:
            with target:
                source.backup(target)  # a consistent copy, even while others write
        finally:
            target.close()
            source.close()
        manifest["database"]["file"] = SQLITE_FILE
    uploads = data_dir / "uploads"
    with tarfile.open(directory / UPLOADS_FILE, "w") as archive:
        if uploads.is_dir():
            archive.add(uploads, arcname="uploads")
    key = data_dir / SECRET_KEY_FILE
    notes = []
    if key.is_file():
        shutil.copyfile(key, directory / KEY_FILE)
        (directory / KEY_FILE).chmod(0o600)
    else:
        notes.append("Pas de fichier de clé secrète dans le dossier de données (SECRET_KEY vient de "
                     "l'environnement) : gardez-la à part, avec les autres secrets.")
    for path in sorted(directory.iterdir()):
        manifest["files"][path.name] = {"bytes": path.stat().st_size, "sha256": _sha256(path)}
    partial = directory / (MANIFEST + ".partial")
    partial.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    partial.rename(directory / MANIFEST)  # last: a backup without its manifest is incomplete
    return Outcome(directory, manifest, notes)


# --- Restore -----------------------------------------------------------------------------------------

def read_manifest(directory: Path) -> dict:
    """The manifest, once every file it names is there with its size and checksum; BackupError
    (in French) for anything missing, truncated or changed."""
    path = directory / MANIFEST
    if not directory.is_dir():
        raise BackupError(f"{directory} n'est pas un dossier de sauvegarde.")
    if not path.is_file():
        raise BackupError(f"Sauvegarde incomplète : {MANIFEST} manque dans {directory} (la sauvegarde a-t-elle été "
                          f"interrompue ?). Rien n'a été modifié.")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        files = manifest["files"]
        database_file = manifest["database"]["file"]
    except (ValueError, KeyError, TypeError):
        raise BackupError(f"{MANIFEST} est illisible ou tronqué : cette sauvegarde ne peut pas être restaurée. "
                          f"Rien n'a été modifié.") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Format de sauvegarde inconnu ({manifest.get('format')!r}). Rien n'a été modifié.")
    if database_file not in files:
        raise BackupError(f"Le manifeste ne décrit pas le fichier de la base ({database_file}). Rien n'a été modifié.")
    for name, expected in files.items():
        member = directory / name
        if Path(name).name != name or not member.is_file():
            raise BackupError(f"Sauvegarde incomplète : le fichier {name} manque. Rien n'a été modifié.")
        size = member.stat().st_size
        if size != expected.get("bytes"):
            raise BackupError(f"Sauvegarde corrompue : {name} fait {size} octets au lieu de {expected.get('bytes')} "
                              f"(fichier tronqué ?). Rien n'a été modifié.")
        if _sha256(member) != expected.get("sha256"):
            raise BackupError(f"Sauvegarde corrompue : la somme de contrôle SHA-256 de {name} ne correspond pas au "
                              f"manifeste. Rien n'a été modifié.")
    return manifest


def restore(directory: Path, database_url: str, data_dir: Path, *, force: bool = False) -> Outcome:
    directory = directory.resolve()
    manifest = read_manifest(directory)
    url = make_url(database_url)
    backend = url.get_backend_name()
    if manifest["database"]["backend"] != backend:
        raise BackupError(f"Cette sauvegarde vient d'une base {manifest['database']['backend']} ; la base configurée "
                          f"(DATABASE_URL) est {backend}. Rien n'a été modifié.")
    full: list[str] = []
    if backend != "sqlite" or Path(url.database or "").is_file():  # no file yet: nothing to lose
        engine = create_engine(url)
        try:
            with engine.connect() as connection:
                full = _tables_with_rows(connection)
        finally:
            engine.dispose()
    if full and not force:
        raise BackupError(f"La base de destination contient déjà des données ({', '.join(sorted(full)[:5])}"
                          f"{'…' if len(full) > 5 else ''}) : la restauration les remplacerait. Relancez avec --force "
                          f"pour les écraser. Rien n'a été modifié.")
    try:
        with tarfile.open(directory / UPLOADS_FILE) as archive:
            archive.getmembers()  # readable to its end, before anything is replaced
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"L'archive des fichiers déposés est illisible ({exc}). Rien n'a été modifié.") from None
    notes: list[str] = []
    if backend == "postgresql":
        dump = directory / manifest["database"]["file"]
        args, env = _pg_environment(url)
        _run(["pg_restore", "--list", str(dump)], env, "La lecture de la sauvegarde (pg_restore --list)")
        _run(["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-acl", "--single-transaction",
              "--exit-on-error", *args, str(dump)], env, "pg_restore")
    else:
        _restore_sqlite(directory / manifest["database"]["file"], url.database or "")
    _restore_uploads(directory / UPLOADS_FILE, data_dir, notes)
    if (directory / KEY_FILE).is_file() and KEY_FILE in manifest["files"]:
        key = data_dir / SECRET_KEY_FILE
        new_key = (directory / KEY_FILE).read_bytes()
        if key.is_file() and key.read_bytes() != new_key:
            key.rename(data_dir / f"{SECRET_KEY_FILE}.avant-restauration-{_stamp()}")
            notes.append("La clé secrète a été remplacée par celle de la sauvegarde (l'ancienne est gardée à côté).")
        data_dir.mkdir(parents=True, exist_ok=True)
        key.write_bytes(new_key)
        key.chmod(0o600)
        if os.environ.get("SECRET_KEY"):
            notes.append("SECRET_KEY est définie dans l'environnement : c'est elle qui signe, pas le fichier restauré.")
    return Outcome(directory, manifest, notes)


def _stamp() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%S")


def _restore_sqlite(copy: Path, database: str) -> None:
    source = sqlite3.connect(f"file:{copy}?mode=ro", uri=True)
    try:
        if source.execute("PRAGMA integrity_check").fetchone() != ("ok",):
            raise BackupError("La copie SQLite de la sauvegarde est corrompue (PRAGMA integrity_check). "
                              "Rien n'a été modifié.")
        Path(database).parent.mkdir(parents=True, exist_ok=True)
        target = sqlite3.connect(database, timeout=30)
        try:
            source.backup(target)  # replaces the whole database in one step
        finally:
            target.close()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"La copie SQLite de la sauvegarde est illisible ({exc}). Rien n'a été modifié.") from None
    finally:
        source.close()


def _restore_uploads(archive_path: Path, data_dir: Path, notes: list[str]) -> None:
    """Unpack beside the uploads directory, then swap: the current one is kept, renamed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=data_dir, prefix=".restauration-") as scratch:
        try:
            with tarfile.open(archive_path) as archive:
                archive.extractall(scratch, filter="data")  # no absolute path, no .., no device
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"L'archive des fichiers déposés est illisible ({exc}).") from None
        unpacked = Path(scratch) / "uploads"
        uploads = data_dir / "uploads"
        if uploads.exists():
            kept = data_dir / f"uploads.avant-restauration-{_stamp()}"
            uploads.rename(kept)
            notes.append(f"L'ancien dossier des fichiers déposés est gardé : {kept}.")
        if unpacked.is_dir():
            unpacked.rename(uploads)
