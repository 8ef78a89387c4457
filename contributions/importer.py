"""Importing fiches action (`parentalites import actions FILE`).

Two formats:

- the text export of the national database of social-centre actions: a title line, a table
  "Nom | Département | Année |", then one block per action that starts with a line "Actions" and
  the action's title, followed by "- Label" lines each followed by its value (free text over
  several lines, or "- item" lines for lists);
- a CSV file with one column per field (UTF-8 with or without BOM, `;` or `,` found by sniffing).
  The header names are in `CSV_COLUMNS` (the long labels of the text export are accepted too).
  A list cell (mots clés, initiative, public, partenaires, fichiers) holds one item per line, or
  items separated by `|` or `;`.

An empty field stays empty (None or []): nothing is invented. Each record is saved in its own
savepoint: a broken record is skipped with its reason and nothing of it is kept, the others go on.
The import is idempotent: `import_key` (a hash of the normalised title, structure, département and
year, as written in the file) finds the fiche again, whose changed fields are updated.

A département is stored by its code ("Seine-Saint-Denis", "93", "093" → "93": core/departements.py),
on the fiche and on a new structure; a text that names no département is kept as written (nothing
is lost) and shown as is. Structures are found again by name and département, whichever way the
département is written.
"""
from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import cast

from sqlalchemy import Table, insert, select, text
from sqlalchemy.orm import Session, selectinload

from accounts.models import User
from contributions.directory import fiche_document, fold, index_documents, is_sqlite
from contributions.models import (
    Contribution,
    ContributionKind,
    ContributionStatus,
    ContributionTransition,
    FicheAction,
    Structure,
    StructureKind,
)
from core import departements
from core.db import utcnow
from core.formatting import plural

# --- The fields ----------------------------------------------------------------------------------

# key, label in the text export, kind: text (lines kept), list ("- item" lines), single (one value)
EXPORT_LABELS: list[tuple[str, str, str]] = [
    ("structure", "Structure organisatrice", "single"),
    ("file_names", "Fichier(s) associé(s)", "list"),
    ("action_status", "Statut de l'action", "single"),
    ("status_reason", "Raisons pour lesquelles l'action est terminée", "text"),
    ("dimension", "Dimension", "single"),
    ("keywords", "Mots clés associés à l'action", "list"),
    ("summary", "Résumé", "text"),
    ("initiative", "Qui est à l'initiative de l'action ?", "list"),
    ("initiative_detail", "Précision ( si autre )", "text"),
    ("territory", "Territoire concerné", "single"),
    ("description", "Description de l'expérience, ses objectifs, ses acteurs et ses différentes phases.", "text"),
    ("public", "Public", "list"),
    ("partners", "Avec qui cette action a-t-elle été menée ?", "list"),
    ("territory_again", "Territoire concerné", "single"),  # repeated in the partners' block
    ("partners_description", "Description générale", "text"),
    ("financial_resources", "Ressources financières mobilisées pour cette action", "text"),
    ("people_mobilised", "Nombre de personnes mobilisés pour cette action", "text"),
    ("result_territory", "Résultat sur le territoire", "text"),
    ("result_structure", "Résultat pour le centre social", "text"),
    ("result_inhabitants", "Résultat pour les habitants", "text"),
    ("limits", "Suite de l'action : Limites", "text"),
    ("perspectives", "Suite de l'action : Perspectives", "text"),
    ("contact", "Contact", "text"),
]
EXPORT_KINDS = {key: kind for key, _label, kind in EXPORT_LABELS}
LIST_SUBHEADINGS = {"partenaires d'action:"}  # structure of the export, not a value

# CSV header (documented in the README) → field. Every header is compared folded (no accents, no
# case, punctuation as "_"): "Année", "annee" and "ANNÉE" are the same column.
CSV_COLUMNS: list[tuple[str, str]] = [
    ("titre", "title"),
    ("structure", "structure"),
    ("departement", "departement"),
    ("annee", "year"),
    ("statut", "action_status"),
    ("raison_fin", "status_reason"),
    ("dimension", "dimension"),
    ("mots_cles", "keywords"),
    ("resume", "summary"),
    ("initiative", "initiative"),
    ("precision_initiative", "initiative_detail"),
    ("territoire", "territory"),
    ("description", "description"),
    ("public", "public"),
    ("partenaires", "partners"),
    ("description_partenariat", "partners_description"),
    ("ressources_financieres", "financial_resources"),
    ("personnes_mobilisees", "people_mobilised"),
    ("resultat_territoire", "result_territory"),
    ("resultat_centre_social", "result_structure"),
    ("resultat_habitants", "result_inhabitants"),
    ("limites", "limits"),
    ("perspectives", "perspectives"),
    ("fichiers", "file_names"),
    ("contact", "contact"),
]
LIST_FIELDS = {"keywords", "initiative", "public", "partners", "file_names"}
TEXT_FIELDS = {"status_reason", "summary", "description", "partners_description", "financial_resources",
               "people_mobilised", "result_territory", "result_structure", "result_inhabitants", "limits",
               "perspectives", "contact"}
MAX_LENGTHS = {"title": 300, "structure": 200, "structure_label": 300, "departement": 80,
               "dimension": 120, "territory": 200}
FICHE_FIELDS = ["structure_label", "departement", "year", "action_status", "status_reason", "dimension",
                "keywords", "summary", "initiative", "territory", "description", "public", "partners",
                "partners_description", "financial_resources", "people_mobilised", "result_territory",
                "result_structure", "result_inhabitants", "limits", "perspectives", "file_names", "contact"]
FIELD_LABELS = {key: label for key, label, _kind in EXPORT_LABELS} | {
    "title": "Titre", "year": "Année", "departement": "Département", "structure_label": "Structure",
    "body_md": "Texte de présentation"}
INITIATIVE_DETAIL_PREFIX = "Précision : "


class ImportFileError(ValueError):
    """The file as a whole cannot be read; the message says why, in French."""


# --- Normalisation ---------------------------------------------------------------------------------

def _norm(value: str | None) -> str:
    return re.sub(r"\s+", " ", fold(value or "")).strip()


def _key(value: str | None) -> str:
    """For identities (structures, import keys): no accents, case nor punctuation."""
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(value or "")).split())


def _label_key(value: str) -> str:
    value = _norm(value)
    value = re.sub(r"\s*([():?])\s*", r"\1", value)
    return value.rstrip(" .")


def _column_key(value: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", fold(value)).strip("_")


CSV_HEADER_KEYS = {name: key for name, key in CSV_COLUMNS} | {
    _column_key(label): key for key, label, _kind in EXPORT_LABELS if key not in ("territory_again", "structure")
} | {"nom": "title", "intitule": "title", "structure_organisatrice": "structure", "statut_de_l_action": "action_status",
     "mots_cles_associes_a_l_action": "keywords", "fichier_s_associe_s": "file_names", "raisons_fin": "status_reason"}


@lru_cache(maxsize=4096)
def stored_departement(value: str | None) -> str | None:
    """What is stored for a département read from a file: its code, else the text as written."""
    if not value or not value.strip():
        return None
    return departements.normalize(value) or " ".join(value.split())


@lru_cache(maxsize=4096)
def _departement_key(value: str | None) -> str:
    """For identities (structures): "Seine-Saint-Denis", "seine-saint-denis" and "93" are one."""
    return departements.normalize(value) or _key(value)


def import_key(title: str, structure: str | None, departement: str | None, year: int | None) -> str:
    raw = "|".join([_key(title), _key(structure), _key(departement), str(year or "")])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def structure_kind(name: str) -> StructureKind:
    folded = _norm(name)
    if re.search(r"\bcentres? soci(al|aux|o-?culturels?)\b|\bcentre socio culturel\b|\bcsc?\b", folded):
        return StructureKind.centre_social
    if re.search(r"\bespaces? de vie sociale\b|\bevs\b", folded):
        return StructureKind.evs
    return StructureKind.autre


def _action_status(value: str | None) -> str | None:
    if not value:
        return None
    folded = _norm(value).replace("_", " ")
    if folded in ("en cours", "encours"):
        return "en_cours"
    if folded in ("terminee", "termine", "terminees", "termines", "achevee"):
        return "terminee"
    raise ValueError(f"statut « {value} » inconnu (attendu : En cours ou Terminée)")


# --- Records ---------------------------------------------------------------------------------------

@dataclass
class ActionRecord:
    """One action as read from a file, before it touches the database."""
    line: int
    title: str
    structure: str | None = None        # the organising structure's name
    structure_label: str | None = None  # as written in the source
    departement: str | None = None
    year: int | None = None
    fields: dict = field(default_factory=dict)  # FicheAction fields (text, lists)
    error: str | None = None            # set when the record cannot be imported

    @property
    def key(self) -> str:
        return import_key(self.title, self.structure, self.departement, self.year)


def _clean_text(lines: list[str]) -> str | None:
    lines = [line.rstrip() for line in lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines) or None


def _clean_list(lines: list[str]) -> list[str]:
    items: list[str] = []
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped == "-":
            continue
        if _norm(stripped) in LIST_SUBHEADINGS:
            continue
        if stripped.startswith("- "):
            items.append(stripped[2:].strip())
        elif stripped.startswith("-") and len(stripped) > 1 and not stripped[1].isalnum():
            items.append(stripped[1:].strip())
        else:
            items.append(stripped)
    return [item for item in items if item]


def _split_structure(value: str | None, departement: str | None) -> tuple[str | None, str | None]:
    """"NAME - Département" → (NAME, Département)."""
    if not value:
        return None, departement
    if departement:
        if _norm(value).endswith(" - " + _norm(departement)):
            return value[: len(value) - len(departement)].rstrip(" -").strip() or None, departement
        return value.strip(), departement
    if " - " in value:
        name, _, dept = value.rpartition(" - ")
        if name.strip() and dept.strip() and not any(ch.isdigit() for ch in dept):
            return name.strip(), departement or dept.strip()
    return value.strip(), departement


def _finish(record: ActionRecord, values: dict) -> ActionRecord:
    """Turn raw field values into the fiche's fields, checking what the database would refuse."""
    f = record.fields
    for key in LIST_FIELDS:
        f[key] = list(values.get(key) or [])
    for key in TEXT_FIELDS:
        f[key] = values.get(key) or None
    f["dimension"] = values.get("dimension") or None
    territories = [t for t in (values.get("territory"), values.get("territory_again")) if t]
    f["territory"] = " ; ".join(dict.fromkeys(territories)) or None
    if values.get("initiative_detail"):
        f["initiative"] = f["initiative"] + [INITIATIVE_DETAIL_PREFIX + values["initiative_detail"]]
    try:
        f["action_status"] = _action_status(values.get("action_status"))
    except ValueError as exc:
        record.error = str(exc)
        return record
    record.structure_label = values.get("structure") or None
    if record.structure is None:
        record.structure, record.departement = _split_structure(values.get("structure"), record.departement)
    if not record.title.strip():
        record.error = "pas de titre"
    elif not record.structure:
        record.error = "pas de structure organisatrice"
    else:
        sizes = {"title": record.title, "structure": record.structure, "structure_label": record.structure_label,
                 "departement": record.departement, "dimension": f["dimension"], "territory": f["territory"]}
        for key, limit in MAX_LENGTHS.items():
            if sizes[key] and len(sizes[key]) > limit:
                record.error = (f"{FIELD_LABELS.get(key, key)} trop long : {len(sizes[key])} caractères, "
                                f"{limit} au plus")
                break
    return record


# --- The text export ---------------------------------------------------------------------------------

_TABLE_SEPARATOR = re.compile(r"^\s*-{2,}\s*(\|\s*-{2,}\s*)+\|?\s*$")


def _header_table(lines: list[str]) -> tuple[list[tuple[str, str | None, int | None]], int]:
    """The "Nom | Département | Année |" table: rows and the index of the line after it."""
    rows: list[tuple[str, str | None, int | None]] = []
    for index, line in enumerate(lines):
        if line.strip() == "Actions":
            return rows, index
        if "|" not in line or _TABLE_SEPARATOR.match(line):
            continue
        cells = [c.strip() for c in line.strip().rstrip("|").split("|")]
        if len(cells) < 3:
            continue
        title, dept, year = "|".join(cells[:-2]).strip(), cells[-2], cells[-1]
        if _norm(title) == "nom" and _norm(dept) == "departement":
            continue
        rows.append((title, dept or None, int(year) if re.fullmatch(r"\d{4}", year) else None))
    return rows, len(lines)


def _is_label(line: str) -> str | None:
    if line.startswith("- "):
        return _label_key(line[2:])
    return None


_LABEL_KEYS = [_label_key(label) for _key, label, _kind in EXPORT_LABELS]


def _starts_record(lines: list[str], index: int) -> bool:
    """"Actions", then a title, then a known label (the structure, normally)."""
    if lines[index].strip() != "Actions" or index + 2 >= len(lines) + 1:
        return False
    if index + 1 >= len(lines) or not lines[index + 1].strip() or lines[index + 1].startswith("- "):
        return False
    return index + 2 < len(lines) and _is_label(lines[index + 2]) in _LABEL_KEYS


def parse_export(content: str) -> Iterator[ActionRecord]:
    lines = content.splitlines()
    table, start = _header_table(lines)
    used: set[int] = set()
    starts = [i for i in range(start, len(lines)) if _starts_record(lines, i)]
    for number, begin in enumerate(starts):
        end = starts[number + 1] if number + 1 < len(starts) else len(lines)
        title = lines[begin + 1].strip()
        record = ActionRecord(line=begin + 2, title=title)
        # The header table lists the records in order; fall back on the title when it does not.
        row = None
        if number < len(table) and number not in used and _norm(table[number][0]) == _norm(title):
            row = number
        else:
            row = next((i for i, r in enumerate(table) if i not in used and _norm(r[0]) == _norm(title)), None)
        if row is not None:
            used.add(row)
            record.departement, record.year = table[row][1], table[row][2]
        values: dict = {}
        position = -1  # labels only move forward: a value line that looks like an earlier label is text
        current: str | None = None
        buffer: list[str] = []
        for line in lines[begin + 2:end]:
            key = _is_label(line)
            found = None
            if key is not None:
                for index in range(position + 1, len(EXPORT_LABELS)):
                    if _LABEL_KEYS[index] == key:
                        found = index
                        break
            if found is not None:
                _store_field(values, current, buffer)
                position, current, buffer = found, EXPORT_LABELS[found][0], []
            else:
                buffer.append(line)
        _store_field(values, current, buffer)
        yield _finish(record, values)


def _store_field(values: dict, key: str | None, lines: list[str]) -> None:
    """The lines read under the label `key` become its value (nothing before the first label)."""
    if key is None:
        return
    kind = EXPORT_KINDS[key]
    if kind == "list":
        values[key] = _clean_list(lines)
    elif kind == "single":
        items = _clean_list(lines)
        values[key] = ", ".join(items) or None
    else:
        values[key] = _clean_text(lines)


# --- CSV -------------------------------------------------------------------------------------------

def _split_cell(value: str) -> list[str]:
    items = [item.strip() for item in re.split(r"\r?\n|\||;", value)]
    return [item[2:].strip() if item.startswith("- ") else item for item in items if item and item != "-"]


def _dialect(sample: str):
    try:
        return csv.Sniffer().sniff(sample, delimiters=";,")
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        class Fallback(csv.excel):
            delimiter = ";" if first.count(";") > first.count(",") else ","
        return Fallback


def parse_csv(content: str, notes: list[str] | None = None) -> Iterator[ActionRecord]:
    notes = notes if notes is not None else []
    lines = content.splitlines(keepends=True)
    if not lines:
        raise ImportFileError("Le fichier CSV est vide.")
    dialect = _dialect("".join(lines[:20]))
    header_reader = csv.reader([lines[0]], dialect)
    header = next(header_reader)
    columns: list[str | None] = []
    for name in header:
        key = CSV_HEADER_KEYS.get(_column_key(name))
        if key is None and name.strip():
            notes.append(f"colonne inconnue ignorée : « {name.strip()} »")
        columns.append(key)
    if "title" not in columns:
        raise ImportFileError("La première ligne du CSV doit nommer les colonnes, dont « titre » "
                              f"(colonnes lues : {', '.join(h for h in header if h) or 'aucune'}).")
    title_index = columns.index("title")
    position = 1  # index in `lines` of the next physical line to read
    while position < len(lines):
        reader = csv.reader(lines[position:], dialect, strict=True)
        restart = None
        while restart is None:
            first_line = position + reader.line_num + 1  # 1-based line number in the file
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                # Most often a quote never closed: skip its first line, read on from the next one.
                yield ActionRecord(line=first_line, title="", error=f"ligne illisible ({exc})")
                restart = first_line
                continue
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                last_line = position + reader.line_num
                cell = row[title_index].strip() if len(row) > title_index else ""
                title = cell.splitlines()[0] if cell else ""
                yield ActionRecord(line=first_line, title=title,
                                   error=f"ligne cassée : {len(row)} colonnes au lieu de {len(header)}")
                if last_line > first_line:  # a stray quote swallowed the next lines: read them again
                    restart = first_line
                continue
            yield _csv_record(first_line, row, columns)
        position = restart


def _csv_record(line: int, row: list[str], columns: list[str | None]) -> ActionRecord:
    values: dict = {}
    for key, cell in zip(columns, row, strict=True):  # the caller checked len(row) == len(header)
        if key is None:
            continue
        cell = cell.strip()
        if key in LIST_FIELDS:
            values[key] = _split_cell(cell)
        elif key in TEXT_FIELDS or key == "initiative_detail":
            values[key] = _clean_text(cell.splitlines()) if cell else None
        else:
            values[key] = re.sub(r"\s+", " ", cell) or None
    record = ActionRecord(line=line, title=values.get("title") or "")
    record.departement = values.get("departement")
    year = values.get("year")
    if year:
        if not re.fullmatch(r"\d{4}", year):
            record.error = f"année « {year} » invalide (attendu : quatre chiffres)"
            return record
        record.year = int(year)
    return _finish(record, values)


# --- Reading a file ----------------------------------------------------------------------------------

def read_text(path: Path, notes: list[str]) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        notes.append("le fichier n'est pas en UTF-8 : lu en Windows-1252")
        return raw.decode("cp1252", errors="replace")


def looks_like_export(content: str) -> bool:
    head = content[:5000].splitlines()
    return any(line.strip() == "Actions" for line in head) or any(
        re.match(r"^\s*Nom\s*\|\s*D[ée]partement\s*\|\s*Ann[ée]e", line) for line in head)


def parse_file(path: Path, notes: list[str] | None = None) -> list[ActionRecord]:
    notes = notes if notes is not None else []
    path = Path(path)
    content = read_text(path, notes)
    if path.suffix.lower() != ".csv" and looks_like_export(content):
        return list(parse_export(content))
    return list(parse_csv(content, notes))


# --- Saving ------------------------------------------------------------------------------------------

@dataclass
class ReportLine:
    outcome: str  # imported, updated, unchanged, skipped
    title: str
    line: int | None = None
    reason: str = ""
    contribution_id: int | None = None

    def __str__(self) -> str:
        where = f"ligne {self.line} : " if self.line else ""
        name = f"« {self.title} »" if self.title else "(sans titre)"
        ref = f" → /actions/{self.contribution_id}/" if self.contribution_id else ""
        reason = f" ({self.reason})" if self.reason else ""
        return f"{self.outcome}: {where}{name}{ref}{reason}"


@dataclass
class Report:
    lines: list[ReportLine] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(1 for line in self.lines if line.outcome == outcome)

    @property
    def imported(self) -> int:
        return self.count("imported")

    @property
    def updated(self) -> int:
        return self.count("updated")

    @property
    def unchanged(self) -> int:
        return self.count("unchanged")

    @property
    def skipped(self) -> int:
        return self.count("skipped")

    @property
    def summary(self) -> str:
        return (f"imported: {self.imported}, updated: {self.updated}, skipped: {self.skipped}, "
                f"unchanged: {self.unchanged}")

    @property
    def summary_fr(self) -> str:
        """The summary for people (the demo): « 2 importées, 0 mise à jour, 1 ignorée, 0 inchangée »."""
        return ", ".join(f"{n} {plural(n, one, many)}" for n, one, many in (
            (self.imported, "importée", "importées"), (self.updated, "mise à jour", "mises à jour"),
            (self.skipped, "ignorée", "ignorées"), (self.unchanged, "inchangée", "inchangées")))

    def __str__(self) -> str:
        return "\n".join([*(f"note: {n}" for n in self.notes), *map(str, self.lines), self.summary])


class _Structures:
    """Structures by (name, département), compared without accents nor case, the département by
    its code when it names one."""

    def __init__(self, db: Session):
        self.db = db
        self.known: dict[tuple[str, str], Structure | _NewStructure] = {
            (_key(s.name), _departement_key(s.departement)): s for s in db.scalars(select(Structure))}

    def get(self, name: str, departement: str | None) -> tuple[Structure | _NewStructure, bool]:
        found = self.known.get((_key(name), _departement_key(departement)))
        if found is not None:
            return found, False
        structure = Structure(name=name, kind=structure_kind(name), departement=stored_departement(departement) or "",
                              commune="")
        self.db.add(structure)
        return structure, True

    def keep(self, structure: Structure | _NewStructure) -> None:
        self.known[(_key(structure.name), _departement_key(structure.departement))] = structure

    def get_many(self, db: Session, records: list[ActionRecord]) -> tuple[list, list[_NewStructure]]:
        """The structure (or its id holder) of each record, and the rows of the new ones, inserted
        here in one statement; they are known to `get` once `keep_rows` says their chunk was saved."""
        pending: dict[tuple[str, str], _NewStructure] = {}
        found: list = []
        for record in records:
            assert record.structure is not None  # a record without one has an error and is skipped
            key = (_key(record.structure), _departement_key(record.departement))
            structure = self.known.get(key) or pending.get(key)
            if structure is None:
                structure = pending[key] = _NewStructure(0, record.structure,
                                                         stored_departement(record.departement) or "")
            found.append(structure)
        rows: list[dict] = []
        if pending:
            for structure, new_id in zip(pending.values(), _new_ids(db, "structures", len(pending)), strict=True):
                structure.id = new_id
                rows.append({"id": new_id, "name": structure.name, "kind": structure_kind(structure.name),
                             "departement": structure.departement, "commune": "", "created_at": utcnow()})
            db.execute(insert(_table(Structure)), rows)
        return found, list(pending.values())


@dataclass
class _NewStructure:
    """A structure inserted by a chunk: what `_Structures` needs of it."""
    id: int
    name: str
    departement: str


def _table(model) -> Table:
    return cast(Table, model.__table__)  # declarative types __table__ as any FromClause


def _new_ids(db: Session, table: str, count: int) -> list[int]:
    """Ids for rows inserted in bulk with their id (no RETURNING needed to tie the rows written next
    to them): from the table's sequence on PostgreSQL; on SQLite, after the largest, the database
    being locked for writing by this transaction from its first write."""
    if db.get_bind().dialect.name == "postgresql":
        return list(db.scalars(text(f"SELECT nextval(pg_get_serial_sequence('{table}', 'id')) "
                                    "FROM generate_series(1, :n)"), {"n": count}))
    start = (db.scalar(text(f"SELECT max(id) FROM {table}")) or 0) + 1
    return list(range(start, start + count))


def _fiche_values(record: ActionRecord) -> dict:
    values = {key: record.fields.get(key) for key in FICHE_FIELDS
              if key not in ("structure_label", "departement", "year")}
    values.update(structure_label=record.structure_label, departement=stored_departement(record.departement),
                  year=record.year)
    for key in LIST_FIELDS:
        values[key] = list(values.get(key) or [])
    return values


def _actor_label(actor: User | None) -> str:
    return f"{actor.name} ({actor.email})" if actor is not None else "la ligne de commande"


def _save(db: Session, record: ActionRecord, actor: User | None, structures: _Structures,
          source_name: str) -> tuple[str, Contribution, list[str], Structure | _NewStructure | None]:
    assert record.structure is not None  # a record without one has an error and is skipped
    structure, created = structures.get(record.structure, record.departement)
    if created:
        db.flush()
    # As in the partner form: the description is the contribution's text, mirrored on the fiche.
    body_md = record.fields.get("description") or ""
    values = _fiche_values(record)
    key = record.key
    fiche = db.scalar(select(FicheAction).where(FicheAction.import_key == key))
    if fiche is None:
        contribution = Contribution(
            structure_id=structure.id, author_id=None, kind=ContributionKind.fiche_action,
            status=ContributionStatus.accepted, title=record.title, body_md=body_md, source="import",
            submitted_at=utcnow())
        contribution.fiche = FicheAction(import_key=key, **values)
        contribution.transitions.append(ContributionTransition(
            from_status=None, to_status=ContributionStatus.accepted.value,
            actor_id=actor.id if actor else None,
            comment=_transition_comment(actor, source_name)))
        db.add(contribution)
        db.flush()
        return "imported", contribution, [], structure if created else None
    outcome, labels = _update(db, fiche, record, structure, actor, source_name)
    db.flush()
    return outcome, fiche.contribution, labels, structure if created else None


CHUNK_SIZE = 1000  # records written by one set of bulk statements


def _transition_comment(actor: User | None, source_name: str) -> str:
    return f"Importée par {_actor_label(actor)} depuis {source_name}"


def _update(db: Session, fiche: FicheAction, record: ActionRecord, structure: Structure | _NewStructure,
            actor: User | None,
            source_name: str) -> tuple[str, list[str]]:
    """Bring an imported fiche up to date with its record: "updated" with the changed fields'
    labels, or "unchanged"."""
    contribution = fiche.contribution
    body_md = record.fields.get("description") or ""
    changed: list[str] = []
    if contribution.title != record.title:
        contribution.title = record.title
        changed.append("title")
    if contribution.structure_id != structure.id:
        contribution.structure_id = structure.id
        changed.append("structure_label")
    if contribution.body_md != body_md:
        contribution.body_md = body_md
        changed.append("body_md")
    for name, value in _fiche_values(record).items():
        if getattr(fiche, name) != value:
            setattr(fiche, name, value)
            changed.append(name)
    if not changed:
        return "unchanged", []
    contribution.updated_at = utcnow()
    labels = ", ".join(dict.fromkeys(FIELD_LABELS.get(n, n) for n in changed))
    db.add(ContributionTransition(
        contribution_id=contribution.id, from_status=contribution.status.value, to_status=contribution.status.value,
        actor_id=actor.id if actor else None,
        comment=f"Mise à jour par import ({labels}) par {_actor_label(actor)} depuis {source_name}"))
    return "updated", [FIELD_LABELS.get(n, n) for n in dict.fromkeys(changed)]


def _save_chunk(db: Session, records: list[ActionRecord], actor: User | None, structures: _Structures,
                source_name: str) -> tuple[list[tuple[str, int, list[str]]], list[_NewStructure]]:
    """Save a chunk of records with a few bulk statements: the fiches already imported read in one
    query, the new structures in one flush, the new contributions, fiches and their history in
    one INSERT each. Returns (outcome, contribution id, changed fields) per record, and the new
    structures."""
    keys = [record.key for record in records]
    existing = {fiche.import_key: fiche for fiche in db.scalars(
        select(FicheAction).where(FicheAction.import_key.in_(keys)).options(selectinload(FicheAction.contribution)))}
    chunk_structures, new_structures = structures.get_many(db, records)
    results: list[tuple[str, int, list[str]] | None] = [None] * len(records)
    new: list[int] = []
    for index, (record, key, structure) in enumerate(zip(records, keys, chunk_structures, strict=True)):
        fiche = existing.get(key)
        if fiche is None:
            new.append(index)
            continue
        outcome, changed = _update(db, fiche, record, structure, actor, source_name)
        results[index] = (outcome, fiche.contribution_id, changed)
    if new:
        # Core executemany (batched by the driver), with the ids drawn first: the ORM's bulk INSERT
        # … RETURNING compiles a statement per row on SQLite.
        now = utcnow()
        ids = _new_ids(db, "contributions", len(new))
        db.execute(insert(_table(Contribution)), [{
            "id": contribution_id, "structure_id": chunk_structures[i].id, "author_id": None,
            "kind": ContributionKind.fiche_action, "status": ContributionStatus.accepted, "title": records[i].title,
            "body_md": records[i].fields.get("description") or "", "source": "import", "submitted_at": now,
            "created_at": now, "updated_at": now} for i, contribution_id in zip(new, ids, strict=True)])
        fiche_rows = [{"contribution_id": contribution_id, "import_key": keys[i], **_fiche_values(records[i])}
                      for i, contribution_id in zip(new, ids, strict=True)]
        db.execute(insert(_table(FicheAction)), fiche_rows)
        db.execute(insert(_table(ContributionTransition)), [{
            "contribution_id": contribution_id, "from_status": None, "to_status": ContributionStatus.accepted.value,
            "actor_id": actor.id if actor else None, "comment": _transition_comment(actor, source_name), "at": now}
            for contribution_id in ids])
        for i, contribution_id in zip(new, ids, strict=True):
            results[i] = ("imported", contribution_id, [])
        if is_sqlite(db):  # SQLite's search index: no flush saw these rows
            index_documents(db, {row["contribution_id"]: fiche_document(
                records[i].title, records[i].fields.get("description") or "", row) for i, row in zip(new, fiche_rows,
                                                                                                   strict=True)})
    db.flush()  # the updates (the search index follows their flush)
    return [r for r in results if r is not None], new_structures


def import_actions(db: Session, path: str | Path, actor: User | None = None, *,
                   on_line: Callable[[ReportLine], None] | None = None,
                   on_start: Callable[[int], None] | None = None,
                   commit_chunks: bool = False) -> Report:
    """Import every action of the file. An import by an editor (or from the command line, with no
    account) counts as accepted: the fiches are in the directory once the caller commits. Records
    are saved by chunks of CHUNK_SIZE, each with a few bulk statements in a savepoint; when the
    database refuses a chunk, its records are saved again one by one, so a refused record is
    skipped with its reason and the others stay. With `commit_chunks`, each chunk is committed
    (the command line: a long import keeps what it has done; importing again resumes it). Raises
    ImportFileError when the file as a whole cannot be read."""
    if actor is not None and not actor.is_editor:
        raise ImportFileError("Seul un compte de la rédaction peut importer des fiches action.")
    path = Path(path)
    report = Report()
    records = parse_file(path, report.notes)
    if on_start:
        on_start(len(records))
    structures = _Structures(db)
    seen: dict[str, int] = {}

    def add(line: ReportLine) -> None:
        report.lines.append(line)
        if on_line:
            on_line(line)

    # In file order: a skipped record's line (None: to save) waits for its chunk to be written.
    pending: list[tuple[ActionRecord, ReportLine | None]] = []
    waiting = 0  # records of `pending` to save

    def write_pending() -> None:
        to_save = [record for record, line in pending if line is None]
        saved = iter(_save_in_chunk(db, to_save, actor, structures, path.name) if to_save else [])
        for _record, line in pending:
            add(line if line is not None else next(saved))
        pending.clear()
        if commit_chunks:
            db.commit()

    for record in records:
        if record.error:
            pending.append((record, ReportLine("skipped", record.title, record.line, record.error)))
            continue
        key = record.key
        if key in seen:
            pending.append((record, ReportLine(
                "skipped", record.title, record.line,
                f"même action que la ligne {seen[key]} (titre, structure, département, année)")))
            continue
        seen[key] = record.line
        pending.append((record, None))
        waiting += 1
        if waiting >= CHUNK_SIZE:
            write_pending()
            waiting = 0
    write_pending()
    return report


def _save_in_chunk(db: Session, records: list[ActionRecord], actor: User | None, structures: _Structures,
                   source_name: str) -> list[ReportLine]:
    """A chunk's report lines: saved in bulk, or record by record when the database refuses it."""
    savepoint = db.begin_nested()
    try:
        results, new_structures = _save_chunk(db, records, actor, structures, source_name)
        savepoint.commit()  # RELEASE SAVEPOINT only: the caller commits
    except Exception:  # noqa: BLE001  one record is refused: find it, save the others
        savepoint.rollback()
        return [_save_alone(db, record, actor, structures, source_name) for record in records]
    for structure in new_structures:
        structures.keep(structure)
    return [ReportLine(outcome, record.title, record.line, ("champs : " + ", ".join(changed)) if changed else "",
                       contribution_id)
            for record, (outcome, contribution_id, changed) in zip(records, results, strict=True)]


def _save_alone(db: Session, record: ActionRecord, actor: User | None, structures: _Structures,
                source_name: str) -> ReportLine:
    """One record in its own savepoint: saved, or skipped with the database's reason."""
    savepoint = db.begin_nested()
    try:
        outcome, contribution, changed, new_structure = _save(db, record, actor, structures, source_name)
        savepoint.commit()
    except Exception as exc:  # noqa: BLE001  the record is skipped, the others go on
        savepoint.rollback()
        return ReportLine("skipped", record.title, record.line, f"enregistrement refusé : {exc.__class__.__name__}: "
                                                                f"{str(exc).splitlines()[0][:200]}")
    if new_structure is not None:
        structures.keep(new_structure)
    return ReportLine(outcome, record.title, record.line, ("champs : " + ", ".join(changed)) if changed else "",
                      contribution.id)
