"""Importing the network's existing list of subscribers from a CSV file (the editors' page
/redaction/abonnes/import and `parentalites subscribers import FILE`).

Two halves:

- `parse(raw, filename)` is pure: bytes in, rows and refused rows out. UTF-8 (with or without
  BOM) is tried strictly first, then Windows-1252; `;` or `,` is sniffed; header names are matched
  without accents, case or surrounding spaces (`HEADERS`). Each bad row is refused alone, with its
  line number and a French reason; a file that cannot be read at all raises ImportFileError.
- `classify(db, parsed)` says what would happen to each row (new, updated, unchanged, skipped)
  without writing (the preview, `--dry-run`); `apply(db, plan, …)` does it, in bulk, and stays
  right when two imports of the same file run at once (INSERT … ON CONFLICT DO NOTHING: a row
  another import created meanwhile is treated as existing).

What a new row becomes depends on its legal basis: a consent date → active, with the proof
(ConsentRecord "import"); legitimate interest → active, basis recorded, and a welcome mail that
says how to leave; neither → pending, and a confirmation e-mail sent through the mail-out engine
(never activated silently). Someone who unsubscribed or is suppressed, or whose erased address
is in the suppression list, is never brought back. An empty cell never erases a stored value.

The mails are not sent from here (subscribers sits below the newsletter): `imported` is a signal
the newsletter connects in the bootstrap (newsletter/confirmations.py).
"""
from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache, lru_cache
from typing import cast

from blinker import Signal
from email_validator import SPECIAL_USE_DOMAIN_NAMES, EmailNotValidError, validate_email
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core import departements
from core.db import among, utcnow
from core.formatting import PARIS
from core.settings import get_settings
from subscribers.models import (
    ROLES,
    TOPICS,
    ConsentRecord,
    LegalBasis,
    Subscriber,
    SubscriberEvent,
    SubscriberImport,
    SubscriberStatus,
    new_token,
)
from subscribers.privacy import suppressed_among
from subscribers.segments import clean_commune
from subscribers.services import one_line

# Sent once an import is written (same transaction): `db`, `filename`, `actor`, the ids of the
# new pending subscribers (to be asked to confirm) and of the new legitimate-interest ones (to be
# welcomed). newsletter.confirmations connects to it; an import with such rows and no receiver
# raises, so that nobody is left without their mail.
imported = Signal("subscribers-imported")


class ImportFileError(ValueError):
    """The file as a whole cannot be imported; the message says why, in French."""


# --- Folding and the columns ---------------------------------------------------------------------

@lru_cache(maxsize=8192)  # the same topics, roles and départements come back on every row
def fold(value: str | None) -> str:
    """Lower case, no accents, punctuation as single spaces: "  Adresse E-mail " → "adresse e mail"."""
    text = unicodedata.normalize("NFKD", value or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text).split())


HEADERS: dict[str, str] = {
    "email": "email", "e mail": "email", "courriel": "email", "adresse e mail": "email", "mail": "email",
    "adresse email": "email", "adresse mail": "email", "adresse courriel": "email",
    "nom": "name", "nom complet": "name", "prenom nom": "name",
    "structure": "structure",
    "themes": "topics", "theme": "topics",
    "role": "role", "fonction": "role",
    "commune": "commune", "ville": "commune",
    "departement": "departement", "dept": "departement",
    "base legale": "basis",
    "date du consentement": "consent_date", "date de consentement": "consent_date",
    "source": "source",
}

# Other names of the topics (keys and labels of TOPICS are matched too).
TOPIC_ALIASES = {"reaap": "parentalite", "parentalite": "parentalite", "soutien a la parentalite": "parentalite",
                 "clas": "clas", "accompagnement a la scolarite": "clas", "ecrans": "numerique"}


@cache
def _topic_names() -> dict[str, str]:
    names = {fold(key): key for key in TOPICS} | {fold(label): key for key, label in TOPICS.items()}
    return names | TOPIC_ALIASES


@cache
def _role_names() -> dict[str, str]:
    names = {fold(key): key for key in ROLES} | {fold(label): key for key, label in ROLES.items()}
    # "Référent·e CLAS" is also written "Référent CLAS" or "Référente CLAS".
    for key, label in ROLES.items():
        names.setdefault(fold(re.sub(r"·\w+", "", label)), key)
        names.setdefault(fold(re.sub(r"·", "", label)), key)
    return names


BASES = {"consentement": LegalBasis.consent, "consent": LegalBasis.consent,
         "interet legitime": LegalBasis.legitimate_interest, "legitimate interest": LegalBasis.legitimate_interest}

def departement_code(value: str) -> str | None:
    """The code of a département given by code ("93", "2a", "1") or by name ("Seine-Saint-Denis")."""
    return departements.normalize(value)


# --- Rows ----------------------------------------------------------------------------------------

@dataclass
class Row:
    """A good row, its values cleaned. None: the cell was empty or the column absent (kept as is)."""
    line: int
    email: str
    name: str | None = None
    structure: str | None = None
    topics: list[str] | None = None
    role: str | None = None
    commune: str | None = None
    departement: str | None = None
    basis: LegalBasis | None = None
    consent_at: datetime | None = None
    source: str | None = None

    @property
    def status(self) -> SubscriberStatus:
        """What a new subscriber of this row becomes: active only with a proof or a basis."""
        if self.consent_at is not None or self.basis is LegalBasis.legitimate_interest:
            return SubscriberStatus.active
        return SubscriberStatus.pending


@dataclass
class Refusal:
    line: int
    email: str  # as written in the file (may be empty or invalid)
    reason: str

    def __str__(self) -> str:
        return f"ligne {self.line} : {self.reason}" + (f" ({self.email})" if self.email else "")


@dataclass
class ParsedFile:
    filename: str
    rows: list[Row] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    encoding: str = "utf-8"
    delimiter: str = ";"

    @property
    def total(self) -> int:
        return len(self.rows) + len(self.refused)


class RowError(ValueError):
    pass


LIMITS = {"name": 200, "structure": 200, "commune": 120, "source": 150}
LABELS = {"name": "nom", "structure": "structure", "commune": "commune", "source": "source"}


# A common address: a dot-atom local part and a domain of LDH labels with an alphabetic TLD. Any
# other shape goes through email_validator (which also answers for what this accepts).
PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                           r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}")
SPECIAL_USE = frozenset(SPECIAL_USE_DOMAIN_NAMES)


def _plain_address(value: str) -> bool:
    if len(value) > 254 or not PLAIN_ADDRESS.fullmatch(value):
        return False
    local, domain = value.split("@")
    labels = domain.lower().split(".")
    return len(local) <= 64 and not any(".".join(labels[i:]) in SPECIAL_USE for i in range(len(labels)))


def clean_email(raw: str) -> str:
    """The normalised address, or RowError with a French reason. Only what the relay can take:
    ASCII (no SMTPUTF8), one @, a domain with a dot, at most 254 characters."""
    value = raw.strip()
    if not value:
        raise RowError("adresse e-mail manquante")
    if not value.isascii():
        raise RowError("adresse internationalisée (caractères accentués ou non latins) : le serveur d'envoi "
                       "ne peut pas l'acheminer")
    if value.count("@") != 1:
        raise RowError("adresse e-mail invalide : il faut exactement un « @ »")
    if _plain_address(value):
        return value.lower()  # what validate_email would accept and return, ten times faster
    try:
        info = validate_email(value, check_deliverability=False, allow_smtputf8=False,
                              allow_quoted_local=False, allow_domain_literal=False)
    except EmailNotValidError as exc:
        raise RowError("adresse e-mail invalide (partie avant ou après « @ » incorrecte, ou trop longue)") from exc
    address = info.normalized.lower()
    if len(address) > 254 or not address.isascii():
        raise RowError("adresse e-mail invalide (trop longue)")
    return address


def _text(key: str, value: str) -> str | None:
    text = one_line(value)
    if key == "commune":
        text = clean_commune(text)
    if len(text) > LIMITS[key]:
        raise RowError(f"{LABELS[key]} trop long ({len(text)} caractères, {LIMITS[key]} au plus)")
    return text or None


def _topics(value: str) -> list[str] | None:
    names = _topic_names()
    items = [item.strip() for item in re.split(r"[|;,]", value) if item.strip()]
    if not items:
        return None
    keys: set[str] = set()
    for item in items:
        key = names.get(fold(item))
        if key is None:
            raise RowError(f"thème inconnu : « {item} » (thèmes possibles : Réaap, CLAS, "
                           + ", ".join(TOPICS[k] for k in TOPICS if k not in ("parentalite", "clas")) + ")")
        keys.add(key)
    return sorted(keys)


def _role(value: str) -> str | None:
    if not value.strip():
        return None
    key = _role_names().get(fold(value))
    if key is None:
        raise RowError(f"rôle inconnu : « {value.strip()} » (rôles possibles : {', '.join(ROLES.values())})")
    return key


def _departement(value: str) -> str | None:
    if not value.strip():
        return None
    code = departement_code(value)
    if code is None:
        raise RowError(f"département inconnu : « {value.strip()} » (attendu : un code comme 93, 2A, 974, ou un nom)")
    return code


def _basis(value: str) -> LegalBasis | None:
    if not value.strip():
        return None
    basis = BASES.get(fold(value))
    if basis is None:
        raise RowError(f"base légale inconnue : « {value.strip()} » (attendu : consentement ou intérêt légitime)")
    return basis


def _consent_date(value: str, today: date) -> datetime | None:
    value = value.strip()
    if not value:
        return None
    for pattern in ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y", "%d.%m.%Y"):
        try:
            day = datetime.strptime(value, pattern).date()
            break
        except ValueError:
            continue
    else:
        raise RowError(f"date du consentement illisible : « {value} » (attendu : jj/mm/aaaa ou aaaa-mm-jj)")
    if day > today:
        raise RowError(f"date du consentement dans le futur : « {value} »")
    if day.year < 1990:
        raise RowError(f"date du consentement invraisemblable : « {value} »")
    # Midnight in Paris: the day the person consented, as the network knows it.
    return datetime.combine(day, time(0, 0), PARIS)


def parse_row(line: int, cells: dict[str, str], today: date) -> Row:
    """One row from its cells by field (only the columns the file has). Raises RowError."""
    row = Row(line=line, email=clean_email(cells.get("email", "")))
    for key in ("name", "structure", "commune", "source"):
        if key in cells:
            setattr(row, key, _text(key, cells[key]))
    if "topics" in cells:
        row.topics = _topics(cells["topics"])
    if "role" in cells:
        row.role = _role(cells["role"])
    if "departement" in cells:
        row.departement = _departement(cells["departement"])
    if "basis" in cells:
        row.basis = _basis(cells["basis"])
    if "consent_date" in cells:
        row.consent_at = _consent_date(cells["consent_date"], today)
    if row.consent_at is not None and row.basis is LegalBasis.legitimate_interest:
        raise RowError("base légale « intérêt légitime » et date du consentement à la fois : gardez l'une ou l'autre")
    if row.consent_at is not None:
        row.basis = LegalBasis.consent
    return row


# --- The file ------------------------------------------------------------------------------------

def _not_csv(raw: bytes) -> str | None:
    head = raw[:4096]
    if head.startswith(b"PK\x03\x04"):
        return ("Ce fichier est un classeur Excel (.xlsx, .ods) ou une archive ZIP, pas un CSV. Dans le tableur, "
                "choisissez « Enregistrer sous… » puis le format « CSV (point-virgule) ».")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return ("Ce fichier est un ancien classeur Excel (.xls), pas un CSV. Dans le tableur, choisissez "
                "« Enregistrer sous… » puis le format « CSV (point-virgule) ».")
    if head.startswith(b"%PDF"):
        return "Ce fichier est un PDF, pas un CSV."
    if head.startswith((b"\x89PNG", b"\xff\xd8\xff", b"GIF8")):
        return "Ce fichier est une image, pas un CSV."
    if b"\x00" in head and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "Ce fichier n'est pas un fichier texte CSV (contenu binaire)."
    return None


def decode(raw: bytes) -> tuple[str, str]:
    """The text and its encoding: UTF-8 (strictly, BOM removed), UTF-16 with a BOM, or Windows-1252."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise ImportFileError("Le fichier annonce l'encodage UTF-16 mais ne peut pas être lu.") from exc
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError as exc:
        raise ImportFileError("Le fichier n'est ni en UTF-8 ni en Windows-1252 : enregistrez-le en "
                              "« CSV UTF-8 » depuis le tableur.") from exc


def _delimiter(header_line: str) -> str:
    try:
        return csv.Sniffer().sniff(header_line, delimiters=";,").delimiter
    except csv.Error:
        return ";" if header_line.count(";") >= header_line.count(",") else ","


def _rows(lines: list[str], delimiter: str, width: int) -> Iterable[tuple[int, list[str] | None, str | None]]:
    """(line number, cells, None) per record, or (line, None, reason) for an unreadable one. A
    record broken by a quote never closed is refused by its first line; reading goes on from the
    next line."""
    position = 1
    while position < len(lines):
        reader = csv.reader(lines[position:], delimiter=delimiter, strict=True)
        restart = None
        while restart is None:
            first = position + reader.line_num + 1
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield first, None, f"ligne illisible (guillemet mal fermé ? {exc})"
                restart = first
                continue
            last = position + reader.line_num
            if last > first and len(cells) != width:
                yield first, None, "ligne cassée : un guillemet ouvert n'est pas refermé"
                restart = first
                continue
            yield first, cells, None
        position = restart



def parse(raw: bytes, filename: str, *, max_bytes: int | None = None, today: date | None = None,
          on_row: Callable[[int], None] | None = None) -> ParsedFile:
    """Read a whole CSV file. Raises ImportFileError when the file itself is refused."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise ImportFileError(f"Fichier trop gros : {len(raw) / 1_048_576:.1f} Mo, la limite est de "
                              f"{max_bytes // 1_048_576} Mo. Découpez-le en plusieurs fichiers.")
    if not raw.strip():
        raise ImportFileError("Le fichier est vide.")
    problem = _not_csv(raw)
    if problem:
        raise ImportFileError(problem)
    text, encoding = decode(raw)
    lines = text.splitlines(keepends=True)
    while lines and not lines[0].strip():
        lines.pop(0)  # a blank line above the header: line numbers stay those of the file
    skipped_above = len(text.splitlines(keepends=True)) - len(lines)
    delimiter = _delimiter(lines[0])
    header = next(csv.reader([lines[0]], delimiter=delimiter))
    parsed = ParsedFile(filename=filename, encoding=encoding, delimiter=delimiter)
    if encoding == "windows-1252":
        parsed.notes.append("le fichier n'est pas en UTF-8 : lu en Windows-1252")
    columns: list[str | None] = []
    for name in header:
        key = HEADERS.get(fold(name))
        if key is not None and key in columns:
            parsed.notes.append(f"colonne « {name.strip()} » en double : seule la première est lue")
            key = None
        elif key is None and name.strip():
            parsed.notes.append(f"colonne inconnue ignorée : « {name.strip()} »")
        columns.append(key)
    if "email" not in columns:
        raise ImportFileError("La première ligne doit nommer les colonnes, dont « email » (ou « courriel », "
                              "« adresse e-mail ») ; colonnes lues : "
                              + (", ".join(f"« {h.strip()} »" for h in header if h.strip()) or "aucune") + ".")
    email_index = columns.index("email")
    today = today or datetime.now(PARIS).date()
    first_seen: dict[str, int] = {}
    for count, (line, cells, error) in enumerate(_rows(lines, delimiter, len(header)), start=1):
        line += skipped_above
        if on_row is not None and count % 1000 == 0:
            on_row(count)
        if cells is None:
            parsed.refused.append(Refusal(line, "", error or "ligne illisible"))
            continue
        if not any(cell.strip() for cell in cells):
            continue  # a blank line
        raw_email = cells[email_index].strip() if len(cells) > email_index else ""
        if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header):]):
            parsed.refused.append(Refusal(line, raw_email, f"ligne cassée : {len(cells)} colonnes au lieu de "
                                                           f"{len(header)} (un séparateur en trop ?)"))
            continue
        values = {key: (cells[i] if i < len(cells) else "") for i, key in enumerate(columns) if key is not None}
        try:
            row = parse_row(line, values, today)
        except RowError as exc:
            parsed.refused.append(Refusal(line, raw_email, str(exc)))
            continue
        if row.email in first_seen:
            parsed.refused.append(Refusal(line, row.email, f"adresse déjà présente ligne {first_seen[row.email]} "
                                                           "du fichier : seule la première ligne compte"))
            continue
        first_seen[row.email] = line
        parsed.rows.append(row)
    if not parsed.rows and not parsed.refused:
        raise ImportFileError("Le fichier ne contient aucune ligne sous les noms de colonnes.")
    return parsed


# --- What would happen ---------------------------------------------------------------------------

FIELDS = ("name", "structure_name", "topics", "role", "commune", "departement")
FIELD_LABELS = {"name": "nom", "structure_name": "structure", "topics": "thèmes", "role": "rôle",
                "commune": "commune", "departement": "département"}


def _row_values(row: Row) -> dict:
    """The fields the row brings (None: leave as is)."""
    return {"name": row.name, "structure_name": row.structure, "topics": row.topics, "role": row.role,
            "commune": row.commune, "departement": row.departement}


@dataclass
class Existing:
    id: int
    status: SubscriberStatus
    values: dict


@dataclass
class Change:
    row: Row
    subscriber_id: int
    values: dict           # every field after the change
    changed: list[str]     # which fields changed (keys of FIELD_LABELS)


@dataclass
class ImportPlan:
    parsed: ParsedFile
    new: list[Row] = field(default_factory=list)
    updated: list[Change] = field(default_factory=list)
    unchanged: list[Row] = field(default_factory=list)
    skipped: list[Refusal] = field(default_factory=list)  # refused rows and people never brought back

    def counts(self) -> dict[str, int]:
        return {"imported": len(self.new), "updated": len(self.updated), "unchanged": len(self.unchanged),
                "skipped": len(self.skipped),
                "active": sum(1 for r in self.new if r.status is SubscriberStatus.active),
                "pending": sum(1 for r in self.new if r.status is SubscriberStatus.pending)}

    @property
    def summary(self) -> str:
        c = self.counts()
        return ", ".join(f"{key}: {c[key]}" for key in ("imported", "updated", "unchanged", "skipped"))


def _existing(db: Session, addresses: list[str], chunk: int = 5000) -> dict[str, Existing]:
    found: dict[str, Existing] = {}
    columns = (Subscriber.id, Subscriber.email, Subscriber.status, Subscriber.name, Subscriber.structure_name,
               Subscriber.topics, Subscriber.role, Subscriber.commune, Subscriber.departement)
    for start in range(0, len(addresses), chunk):
        for sid, email, status, *values in db.execute(select(*columns).where(
                among(db, Subscriber.email, addresses[start:start + chunk]))):
            found[email] = Existing(sid, status, dict(zip(FIELDS, values, strict=True)))
    return found


def _judge(plan: ImportPlan, row: Row, existing: Existing | None, suppressed: bool) -> None:
    if suppressed:
        plan.skipped.append(Refusal(row.line, row.email, "adresse effacée après un rejet définitif ou une plainte : "
                                                         "elle ne recevra plus jamais rien"))
        return
    if existing is None:
        plan.new.append(row)
        return
    if existing.status is SubscriberStatus.unsubscribed:
        plan.skipped.append(Refusal(row.line, row.email, "s'est désabonné·e : un import ne réabonne jamais personne"))
        return
    if existing.status is SubscriberStatus.suppressed:
        plan.skipped.append(Refusal(row.line, row.email, "adresse bloquée (rejet définitif, plainte ou rejets "
                                                         "répétés) : un import ne la réactive jamais"))
        return
    values = dict(existing.values)
    changed = []
    for key, value in _row_values(row).items():
        if value is None:
            continue
        old = values.get(key)
        if key == "topics":
            old = sorted(old or [])
        if value != old:
            values[key] = value
            changed.append(key)
    if changed:
        plan.updated.append(Change(row, existing.id, values, changed))
    else:
        plan.unchanged.append(row)


def classify(db: Session, parsed: ParsedFile) -> ImportPlan:
    """What importing would do now; writes nothing (the preview, --dry-run)."""
    plan = ImportPlan(parsed=parsed, skipped=list(parsed.refused))
    addresses = [row.email for row in parsed.rows]
    existing = _existing(db, addresses)
    suppressed = suppressed_among(db, addresses)
    for row in parsed.rows:
        _judge(plan, row, existing.get(row.email), row.email in suppressed)
    plan.skipped.sort(key=lambda r: r.line)
    return plan


# --- Doing it ------------------------------------------------------------------------------------

SUBSCRIBERS = cast(Table, Subscriber.__table__)
CONSENTS = cast(Table, ConsentRecord.__table__)
EVENTS = cast(Table, SubscriberEvent.__table__)


def _insert(db: Session, table: Table):
    return (postgresql.insert if db.get_bind().dialect.name == "postgresql" else sqlite.insert)(table)


NEW_COLUMNS = ("email", "name", "structure_name", "topics", "role", "commune", "departement", "legal_basis", "source",
               "status", "unsubscribe_token", "created_at", "confirmed_at", "last_activity_at")


def _insert_many(db: Session, values: list[dict]) -> dict[str, int]:
    """New subscribers, a row another transaction holds left alone; {email: id} of those inserted."""
    # One executemany (SQLAlchemy's insertmanyvalues: multi-row INSERTs, one statement compiled).
    stmt = (_insert(db, SUBSCRIBERS).on_conflict_do_nothing(index_elements=["email"])
            .returning(SUBSCRIBERS.c.id, SUBSCRIBERS.c.email))
    return {email: sid for sid, email in db.execute(stmt, values)}


def _insert_copy(db: Session, values: list[dict]) -> dict[str, int]:
    """The same on PostgreSQL, five times faster: COPY into a temporary table, then one
    INSERT … SELECT … ORDER BY email ON CONFLICT DO NOTHING RETURNING (in the session's transaction;
    every import inserts in address order, so two at once wait on each other, never deadlock)."""
    columns = ", ".join(NEW_COLUMNS)
    driver = db.connection().connection.driver_connection
    assert driver is not None  # a live psycopg connection: the session just opened it
    with driver.cursor() as cursor:
        cursor.execute("CREATE TEMPORARY TABLE IF NOT EXISTS subscriber_import_rows ("
                       "email varchar(254), name varchar(200), structure_name varchar(200), topics json, "
                       "role varchar(40), commune varchar(120), departement varchar(3), legal_basis varchar(32), "
                       "source varchar(200), status varchar(32), unsubscribe_token varchar(64), "
                       "created_at timestamptz, confirmed_at timestamptz, last_activity_at timestamptz"
                       ") ON COMMIT DROP")
        cursor.execute("TRUNCATE subscriber_import_rows")
        with cursor.copy(f"COPY subscriber_import_rows ({columns}) FROM STDIN") as copy:
            for row in values:
                copy.write_row([json.dumps(row[c]) if c == "topics" else row[c] for c in NEW_COLUMNS])
        cursor.execute(f"INSERT INTO subscribers ({columns}) SELECT {columns} FROM subscriber_import_rows "
                       "ORDER BY email ON CONFLICT (email) DO NOTHING RETURNING id, email")
        return {email: sid for sid, email in cursor.fetchall()}


@dataclass
class ImportResult:
    plan: ImportPlan
    pending_ids: list[int] = field(default_factory=list)   # asked to confirm (mail-out "confirmation")
    welcome_ids: list[int] = field(default_factory=list)   # legitimate interest (mail-out "welcome")

    @property
    def summary(self) -> str:
        return self.plan.summary


def apply(db: Session, plan: ImportPlan, *, actor: str | None = None, batch: int = 1000,
          on_progress: Callable[[int], None] | None = None) -> ImportResult:
    """Write the plan (the caller commits). New rows are inserted with ON CONFLICT DO NOTHING:
    one another import created meanwhile is judged again as existing, so two imports of the same
    file at once create each subscriber once."""
    filename = plan.parsed.filename
    now = utcnow()
    result = ImportResult(plan)
    source = f"import:{filename}"[:200]
    late: list[Row] = []
    created: list[tuple[int, Row]] = []
    rows = sorted(plan.new, key=lambda r: r.email)  # one order for every import: no deadlock between two
    postgresql_copy = db.get_bind().dialect.name == "postgresql"
    step = 5000 if postgresql_copy else batch
    for start in range(0, len(rows), step):
        part = rows[start:start + step]
        values = [{
            "email": r.email, "name": r.name or "", "structure_name": r.structure or "", "topics": r.topics or [],
            "role": r.role, "commune": r.commune, "departement": r.departement,
            "legal_basis": r.basis.value if r.basis else None,
            "source": (f"{source} — {r.source}" if r.source else source)[:200], "status": r.status.value,
            "unsubscribe_token": new_token(), "created_at": now,
            "confirmed_at": r.consent_at if r.consent_at is not None else None,
            "last_activity_at": r.consent_at if r.consent_at is not None else (
                now if r.status is SubscriberStatus.active else None),
        } for r in part]
        ids = _insert_copy(db, values) if postgresql_copy else _insert_many(db, values)
        for r in part:
            if r.email in ids:
                created.append((ids[r.email], r))
            else:
                late.append(r)
        if on_progress is not None:
            on_progress(len(part))
    if late:  # created by another import meanwhile: judged again, as existing
        late_rows = {id(r) for r in late}
        plan.new = [r for r in plan.new if id(r) not in late_rows]
        existing = _existing(db, [r.email for r in late])
        for r in late:
            _judge(plan, r, existing.get(r.email), False)
    plan.new.sort(key=lambda r: r.line)

    details = {"file": filename, "editor": actor, "imported_at": now.isoformat()}
    consents = [{"subscriber_id": sid, "action": "import", "source": "import", "at": r.consent_at,
                 "details": {**details, **({"source": r.source} if r.source else {})}}
                for sid, r in created if r.consent_at is not None]
    if consents:
        db.execute(_insert(db, CONSENTS), consents)
    events = [{"subscriber_id": sid, "kind": "imported", "actor": actor, "at": now,
               "detail": f"importé depuis {filename} ("
                         + ("consentement du " + r.consent_at.strftime("%d/%m/%Y") if r.consent_at else
                            "intérêt légitime" if r.basis is LegalBasis.legitimate_interest else
                            "en attente de confirmation") + ")"}
              for sid, r in created]
    if plan.updated:
        stmt = (update(SUBSCRIBERS).where(SUBSCRIBERS.c.id == bindparam("b_id"))
                .values({key: bindparam(f"b_{key}") for key in FIELDS}))
        for start in range(0, len(plan.updated), batch):
            changes = plan.updated[start:start + batch]
            db.execute(stmt, [{"b_id": c.subscriber_id, **{f"b_{k}": v for k, v in c.values.items()}}
                              for c in changes])
            if on_progress is not None:
                on_progress(len(changes))
        events += [{"subscriber_id": c.subscriber_id, "kind": "import_updated", "actor": actor, "at": now,
                    "detail": f"mis à jour par l'import de {filename} : "
                              + ", ".join(FIELD_LABELS[k] for k in c.changed)} for c in plan.updated]
    for start in range(0, len(events), 5000):
        db.execute(_insert(db, EVENTS), events[start:start + 5000])
    db.expire_all()  # the ORM's copies of these rows are stale now

    result.pending_ids = [sid for sid, r in created if r.status is SubscriberStatus.pending]
    result.welcome_ids = [sid for sid, r in created
                          if r.status is SubscriberStatus.active and r.basis is LegalBasis.legitimate_interest]
    if result.pending_ids or result.welcome_ids:
        answers = imported.send(db, filename=filename, actor=actor, pending_ids=result.pending_ids,
                                welcome_ids=result.welcome_ids)
        if not answers:
            raise RuntimeError("Aucun envoi n'est branché sur l'import des abonnés (bootstrap non appelé ?) : "
                               "les confirmations et les mails de bienvenue ne partiraient pas.")
    return result


# --- One call for the command line and the web -----------------------------------------------------

def max_bytes() -> int:
    return get_settings().subscriber_import_max_mb * 1_048_576


def import_file(db: Session, raw: bytes, filename: str, *, actor: str | None = None, dry_run: bool = False,
                on_total: Callable[[int], None] | None = None,
                on_progress: Callable[[int], None] | None = None) -> ImportPlan:
    """Parse, judge and (unless dry_run) write a whole file, recorded as a SubscriberImport (the
    caller commits). Raises ImportFileError."""
    parsed = parse(raw, filename, max_bytes=max_bytes())
    plan = classify(db, parsed)
    if dry_run:
        return plan
    if on_total is not None:
        on_total(len(plan.new) + len(plan.updated))
    apply(db, plan, actor=actor, on_progress=on_progress)
    db.add(SubscriberImport(filename=filename[:255], actor=actor, status="done", counts=plan.counts(),
                            finished_at=utcnow()))
    db.flush()
    return plan
