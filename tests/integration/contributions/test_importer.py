"""Importing fiches action: the text export of the national database of social-centre actions
(seed 004 and our own fixture) and CSV files; idempotence; the command line."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from contributions import importer
from contributions.importer import (
    ImportFileError,
    import_actions,
    import_key,
)
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
from tests.conftest import FIXTURES, ROOT, shared_path

SAMPLE = FIXTURES / "actions_sample.txt"
SAMPLE_CSV = FIXTURES / "actions_sample.csv"


def seed_004() -> Path:
    folder = shared_path("seeds")
    found = sorted(folder.glob("004_*.txt"))
    if not found:
        pytest.skip("seed 004 is absent")
    return found[0]


def fiches(db) -> list[Contribution]:
    return list(db.scalars(select(Contribution).where(Contribution.kind == ContributionKind.fiche_action)
                           .order_by(Contribution.id)))


def counts(db) -> tuple[int, int, int, int]:
    return (db.scalar(select(func.count()).select_from(Contribution)),
            db.scalar(select(func.count()).select_from(FicheAction)),
            db.scalar(select(func.count()).select_from(Structure)),
            db.scalar(select(func.count()).select_from(ContributionTransition)))


# --- Our own fixture, always on ------------------------------------------------------------------


def test_import_creates_structures_accepted_fiches_and_their_history(db, world):
    existing = Structure(name="CENTRE SOCIAL DES QUATRE CHEMINS", kind=StructureKind.centre_social,
                         departement="seine-saint-denis")
    db.add(existing)
    db.commit()
    report = import_actions(db, SAMPLE, world["editor"])
    assert (report.imported, report.updated, report.skipped) == (3, 0, 0)
    assert str(report).splitlines()[-1] == "imported: 3, updated: 0, skipped: 0, unchanged: 0"
    assert all(line.startswith("imported: ligne ") for line in str(report).splitlines()[:3])
    creche, jardin, devoirs = fiches(db)
    # Same name and département, written differently (hyphen, case): the structure is found again.
    assert creche.structure_id == existing.id
    assert jardin.structure.name == "Maison pour tous Les Sablons" and jardin.structure.kind is StructureKind.autre
    assert jardin.structure.departement == "94"  # stored by its code
    assert devoirs.structure.kind is StructureKind.autre
    for c in (creche, jardin, devoirs):
        assert c.status is ContributionStatus.accepted and c.source == "import" and c.author_id is None
        [transition] = c.transitions
        assert transition.to_status == "accepted" and transition.actor_id == world["editor"].id
        assert transition.comment.startswith("Importée par Claire Martin")
    assert creche.body_md == creche.fiche.description  # the description is the contribution's text
    assert devoirs.body_md == "" and devoirs.fiche.description is None
    assert creche.fiche.import_key == import_key(creche.title, "Centre social des Quatre-Chemins",
                                                 "Seine-Saint-Denis", 2024)


def test_reimport_updates_changed_fields_and_never_duplicates(db, world, tmp_path):
    import_actions(db, SAMPLE, world["editor"])
    before = counts(db)
    again = import_actions(db, SAMPLE, world["editor"])
    assert (again.imported, again.updated, again.unchanged, again.skipped) == (0, 0, 3, 0)
    assert counts(db) == before
    changed = tmp_path / "actions.txt"
    changed.write_text(SAMPLE.read_text(encoding="utf-8").replace(
        "Deux animateurs et une dizaine de bénévoles.", "Trois animateurs et vingt bénévoles.").replace(
        "- développement durable\n", "- développement durable\n- Santé\n"), encoding="utf-8")
    report = import_actions(db, changed, world["editor"])
    assert (report.imported, report.updated, report.unchanged) == (0, 1, 2)
    [line] = [line for line in report.lines if line.outcome == "updated"]
    assert line.title == "Les mercredis des jardiniers" and "Mots clés" in line.reason
    db.expire_all()
    jardin = db.scalar(select(Contribution).where(Contribution.title == "Les mercredis des jardiniers"))
    assert jardin.fiche.people_mobilised == "Trois animateurs et vingt bénévoles."
    assert jardin.fiche.keywords == ["développement durable", "Santé", "intergénérationnel"]
    assert jardin.transitions[-1].comment.startswith("Mise à jour par import")
    assert counts(db)[:3] == before[:3]


def test_a_record_the_database_refuses_is_skipped_and_nothing_of_it_is_kept(db, world, tmp_path):
    broken = tmp_path / "actions.txt"
    text = SAMPLE.read_text(encoding="utf-8").replace(
        "- Association Réussir Ensemble - Seine-Saint-Denis", "- Association Toute Neuve - Seine-Saint-Denis")
    # PostgreSQL refuses a NUL character in text: the flush of that record fails.
    broken.write_text(text.replace("Un soir par semaine", "Un soir\x00 par semaine"), encoding="utf-8")
    report = import_actions(db, broken, world["editor"])
    assert (report.imported, report.skipped) == (2, 1)
    [skipped] = [line for line in report.lines if line.outcome == "skipped"]
    assert skipped.title == "Devoirs en famille" and "enregistrement refusé" in skipped.reason
    assert db.scalar(select(Structure).where(Structure.name == "Association Toute Neuve")) is None
    assert db.scalar(select(Contribution).where(Contribution.title == "Devoirs en famille")) is None
    assert len(fiches(db)) == 2


def test_records_are_saved_by_chunks_and_a_refused_chunk_is_saved_record_by_record(db, world, tmp_path, monkeypatch):
    """Issue 14: records go to the database in bulk chunks; a chunk the database refuses is saved
    again one record at a time, so only the refused record is skipped; the report keeps the file's
    order, and a new structure shared by two chunks is created once."""
    monkeypatch.setattr(importer, "CHUNK_SIZE", 2)
    path = tmp_path / "actions.csv"
    path.write_text("Titre;Structure;Département;Année;Résumé\n"
                    "Atelier 1;Maison des familles;93;2021;Un atelier.\n"
                    ";Maison des familles;93;2021;Sans titre.\n"
                    "Atelier 2;Maison des familles;93;2022;Un autre.\n"
                    "Atelier 3;Centre social Nouveau;38;2022;Un soir\x00 par semaine.\n"
                    "Atelier 4;Centre social Nouveau;38;2023;Le samedi.\n"
                    "Atelier 1;Maison des familles;93;2021;Le même.\n", encoding="utf-8")
    report = import_actions(db, path, world["editor"])
    assert [(line.outcome, line.line) for line in report.lines] == [
        ("imported", 2), ("skipped", 3), ("imported", 4), ("skipped", 5), ("imported", 6), ("skipped", 7)]
    assert "enregistrement refusé" in report.lines[3].reason and "même action que la ligne 2" in report.lines[5].reason
    assert {c.title for c in fiches(db)} == {"Atelier 1", "Atelier 2", "Atelier 4"}
    assert db.scalar(select(func.count()).select_from(Structure).where(Structure.name == "Maison des familles")) == 1
    assert all(len(c.transitions) == 1 for c in fiches(db))
    again = import_actions(db, path, world["editor"], commit_chunks=True)
    assert (again.imported, again.updated, again.unchanged, again.skipped) == (0, 0, 3, 3)


def test_only_an_editor_may_import(db, world):
    with pytest.raises(ImportFileError):
        import_actions(db, SAMPLE, world["partner"])
    assert fiches(db) == []


# --- CSV -------------------------------------------------------------------------------------------

def test_csv_imports_good_rows_and_skips_broken_ones_with_their_reason(db, world):
    report = import_actions(db, SAMPLE_CSV, world["editor"])
    assert (report.imported, report.updated, report.skipped) == (2, 0, 3)
    skipped = {line.line: line.reason for line in report.lines if line.outcome == "skipped"}
    assert skipped[4] == "pas de titre"
    assert skipped[5].startswith("ligne cassée : 5 colonnes au lieu de 15")
    assert "année « deux mille » invalide" in skipped[6]
    assert {c.title for c in fiches(db)} == {"Goûters-débats à la crèche", "Café des parents du collège"}
    gouter = db.scalar(select(Contribution).where(Contribution.title == "Goûters-débats à la crèche"))
    f = gouter.fiche
    assert (f.departement, f.year, f.action_status, f.dimension) == ("93", 2025, "en_cours", "Services")
    assert f.keywords == ["Parentalité", "Petite enfance"]
    assert f.summary == "Un goûter par mois avec les parents de la crèche.\nUne psychologue anime l'échange."
    assert f.contact == "accueil@tilleuls.example.org" and f.description is None and f.status_reason is None
    assert gouter.structure.kind is StructureKind.centre_social
    college = db.scalar(select(Contribution).where(Contribution.title == "Café des parents du collège")).fiche
    assert college.action_status == "terminee" and college.status_reason == "Fin du financement."
    assert college.public == ["Parents d'adolescents"] and college.partners == ["Collège Jean-Jaurès"]
    skipped_titles = ["Sorties familles", "Bourse aux livres"]
    assert db.scalar(select(Contribution).where(Contribution.title.in_(skipped_titles))) is None


def test_csv_with_commas_and_no_bom_is_sniffed(db, world, tmp_path):
    path = tmp_path / "actions.csv"
    path.write_text('Titre,Structure,Département,Année,Mots clés,Résumé\n'
                    '"Atelier cuisine, parents et enfants",Centre social Rosa-Parks,Isère,2021,Santé;Parentalité,'
                    '"Une fois par mois, on cuisine ensemble."\n'
                    '"Une ligne cassée,Centre social Rosa-Parks,Isère,2021,,\n'
                    'Ludothèque mobile,Centre social Rosa-Parks,Isère,2022,,\n', encoding="utf-8")
    report = import_actions(db, path, world["editor"])
    assert (report.imported, report.skipped) == (2, 1), str(report)
    [skipped] = [line for line in report.lines if line.outcome == "skipped"]
    assert skipped.line == 3 and "ligne" in skipped.reason
    atelier = db.scalar(select(Contribution).where(Contribution.title == "Atelier cuisine, parents et enfants"))
    assert atelier.fiche.keywords == ["Santé", "Parentalité"]
    assert atelier.fiche.summary == "Une fois par mois, on cuisine ensemble."
    assert atelier.fiche.departement == "38" and atelier.fiche.year == 2021
    assert {c.title for c in fiches(db)} == {"Atelier cuisine, parents et enfants", "Ludothèque mobile"}


def test_a_csv_without_a_title_column_is_refused_as_a_whole(db, world, tmp_path):
    path = tmp_path / "actions.csv"
    path.write_text("nom_de_famille;ville\nDupont;Lyon\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match="titre"):
        import_actions(db, path, world["editor"])


# --- Seed 004: the 14 actions of the national database --------------------------------------------

LABELS = [
    "Structure organisatrice", "Fichier(s) associé(s)", "Statut de l'action",
    "Raisons pour lesquelles l'action est terminée", "Dimension", "Mots clés associés à l'action", "Résumé",
    "Qui est à l'initiative de l'action ?", "Précision ( si autre )", "Territoire concerné",
    "Description de l'expérience, ses objectifs, ses acteurs et ses différentes phases.", "Public",
    "Avec qui cette action a-t-elle été menée ?", "Territoire concerné", "Description générale",
    "Ressources financières mobilisées pour cette action", "Nombre de personnes mobilisés pour cette action",
    "Résultat sur le territoire", "Résultat pour le centre social", "Résultat pour les habitants",
    "Suite de l'action : Limites", "Suite de l'action : Perspectives",
]
TEXT_COLUMNS = {
    "Résumé": "summary",
    "Description de l'expérience, ses objectifs, ses acteurs et ses différentes phases.": "description",
    "Description générale": "partners_description",
    "Ressources financières mobilisées pour cette action": "financial_resources",
    "Nombre de personnes mobilisés pour cette action": "people_mobilised",
    "Résultat sur le territoire": "result_territory", "Résultat pour le centre social": "result_structure",
    "Résultat pour les habitants": "result_inhabitants", "Suite de l'action : Limites": "limits",
    "Suite de l'action : Perspectives": "perspectives",
}


def read_seed(path: Path) -> tuple[list[tuple[str, str, int]], list[dict]]:
    """An independent reading of the export: the table, then each block cut at its label lines
    (labels found in their documented order)."""
    text = path.read_text(encoding="utf-8")
    head, _, body = text.partition("\nActions\n")
    table = [tuple(c.strip() for c in line.strip().strip("|").split("|"))
             for line in head.splitlines()[3:] if "|" in line]
    blocks = ("Actions\n" + body).split("\nActions\n")
    records = []
    for block in blocks:
        lines = block.removeprefix("Actions\n").splitlines()
        record = {"title": lines[0], "values": {}, "lines": lines[1:]}
        cursor, label_index = 1, 0
        marks = []
        while label_index < len(LABELS):
            wanted = "- " + LABELS[label_index]
            for position in range(cursor, len(lines)):
                if lines[position] == wanted:
                    marks.append((position, LABELS[label_index], label_index))
                    cursor = position + 1
                    break
            label_index += 1
        for n, (position, label, index) in enumerate(marks):
            end = marks[n + 1][0] if n + 1 < len(marks) else len(lines)
            record["values"].setdefault((label, index), lines[position + 1:end])
        records.append(record)
    return [(t, d, int(y)) for t, d, y in table], records


def test_the_14_actions_of_seed_004_import_with_every_non_empty_field(db, world):
    path = seed_004()
    table, records = read_seed(path)
    assert len(table) == len(records) == 14
    report = import_actions(db, path, world["editor"])
    assert (report.imported, report.skipped) == (14, 0), str(report)
    imported = fiches(db)
    assert [c.title for c in imported] == [t for t, _d, _y in table] == [r["title"] for r in records]
    for c, (_title, dept, year), record in zip(imported, table, records, strict=True):
        f = c.fiche
        assert (f.departement, f.year) == (departements.normalize(dept), year)
        values = record["values"]
        structure_line = values[("Structure organisatrice", 0)][0]
        assert f.structure_label == structure_line.removeprefix("- ")
        assert c.structure.name == structure_line.removeprefix("- ").removesuffix(" - " + dept)
        keywords = [v.removeprefix("- ") for v in values[("Mots clés associés à l'action", 5)] if v != "-"]
        assert f.keywords == keywords
        publics = [v.removeprefix("- ") for v in values[("Public", 11)] if v != "-"]
        assert f.public == publics
        for (label, _index), lines in values.items():
            column = TEXT_COLUMNS.get(label)
            expected = "\n".join(lines).strip() or None
            if column:
                assert getattr(f, column) == expected, (c.title, label)
        assert c.body_md == (f.description or "")
        # Nothing lost: every value line of the block is somewhere in the fiche.
        stored = "\n".join(str(v) for v in [c.title, c.structure.name, f.structure_label, f.departement,
                                            f.dimension, f.territory, f.action_status, *f.keywords,
                                            *f.initiative, *f.public, *f.partners, *f.file_names]
                           + [getattr(f, col) or "" for col in TEXT_COLUMNS.values()] + [f.status_reason or ""])
        label_lines = {"- " + label for label in LABELS}
        for line in record["lines"]:
            if line in label_lines or line.strip() in ("-", "", "Partenaires d'action:"):
                continue
            value = line.removeprefix("- ")
            if value in ("En cours", "Terminée"):
                assert f.action_status in ("en_cours", "terminee")
                continue
            assert value in stored, (c.title, line)
    by_title = {c.title: c for c in imported}
    infos = by_title["Infos familles"].fiche
    assert infos.keywords == ["intergénérationnel", "Parentalité", "Solidarité", "Viellissement", "Santé",
                              "Logement", "Précarité", "Intégration", "mobilité / transport",
                              "discriminations", "Mixité sociale"]
    assert infos.initiative[-1].startswith("Précision : L'initiative vient du groupe habitants")
    turin = by_title["Sortie Turin"].fiche
    assert turin.action_status == "terminee" and turin.status_reason is None
    assert turin.financial_resources.splitlines()[0] == "charges = total de 2703€ :"
    assert len(turin.financial_resources.splitlines()) == 10
    atelier = by_title["atelier parents enfants"].fiche
    assert atelier.action_status is None and atelier.territory is None and atelier.public == []
    assert atelier.description is None and atelier.result_territory is None
    assert "CCAS de Montoir" in atelier.summary
    assert by_title["rencontrer des familles"].fiche.perspectives is None
    kinds = {c.structure.name: c.structure.kind for c in imported}
    assert kinds["CENTRE SOCIAL Communautaire"] is StructureKind.centre_social
    assert kinds["Robert Doisneau"] is StructureKind.autre

    before = counts(db)
    again = import_actions(db, path, world["editor"])
    assert again.imported == 0 and again.updated + again.unchanged == 14 and again.skipped == 0
    assert again.summary.startswith("imported: 0, updated: 0, skipped: 0")
    assert counts(db) == before


# --- The command line, for real --------------------------------------------------------------------

def test_the_command_imports_a_file_and_reports_each_record(db, world):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "parentalites.cli", "import", "actions", str(SAMPLE),
               "--as", "redaction@reaap.test"]
    result = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "imported: 3, updated: 0, skipped: 0, unchanged: 0"
    assert sum(1 for line in lines if line.startswith("imported: ligne")) == 3
    db.expire_all()
    assert {c.title for c in fiches(db)} == {"Une crèche parentale au pied des tours",
                                             "Les mercredis des jardiniers", "Devoirs en famille"}
    assert all(c.transitions[0].actor_id == world["editor"].id for c in fiches(db))
    again = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert again.stdout.strip().splitlines()[-1] == "imported: 0, updated: 0, skipped: 0, unchanged: 3"
    refused = subprocess.run(command[:-1] + ["amina@tilleuls.test"], env=env, cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert refused.returncode == 1 and "n'est pas un compte actif de la rédaction" in refused.stderr
    assert re.search(r"\b3\b", str(len(fiches(db))))


def test_departements_are_stored_by_code_and_structures_found_whichever_way_written(db, world, tmp_path):
    """Issue 13 #24: "93" beside "Seine-Saint-Denis". Each spelling is stored as the code; a
    structure written with the name is found again with the number; a text that names no
    département is kept as written; re-importing changes nothing."""
    existing = Structure(name="Centre social Rosa-Parks", kind=StructureKind.centre_social, departement="93")
    db.add(existing)
    db.commit()
    path = tmp_path / "actions.csv"
    path.write_text("Titre;Structure;Département;Année\n"
                    "Atelier 1;Centre social Rosa-Parks;Seine-Saint-Denis;2021\n"
                    "Atelier 2;CENTRE SOCIAL ROSA PARKS;093;2022\n"
                    "Atelier 3;Maison des familles;seine saint denis;2022\n"
                    "Atelier 4;Maison des familles;93;2023\n"
                    "Atelier 5;Maison des Corses;Corse-du-Sud (2A);2023\n"
                    "Atelier 6;Association régionale;Île-de-France;2023\n", encoding="utf-8")
    report = import_actions(db, path, world["editor"])
    assert (report.imported, report.skipped) == (6, 0), str(report)
    by_title = {c.title: c for c in fiches(db)}
    assert [by_title[f"Atelier {n}"].fiche.departement for n in range(1, 7)] == [
        "93", "93", "93", "93", "2A", "Île-de-France"]
    assert by_title["Atelier 1"].structure_id == by_title["Atelier 2"].structure_id == existing.id
    assert by_title["Atelier 3"].structure_id == by_title["Atelier 4"].structure_id
    assert by_title["Atelier 3"].structure.departement == "93"
    assert by_title["Atelier 6"].structure.departement == "Île-de-France"
    again = import_actions(db, path, world["editor"])
    assert (again.imported, again.updated, again.unchanged) == (0, 0, 6), str(again)
