#!/usr/bin/env python
"""Benchmark of the directory of actions (`/actions/`): import, French search with facets, the page.

    .venv/bin/python bench/directory.py [--fiches 20000] [--repeat 10] [--budget 10] [--backends pg,sqlite]

Writes N synthetic fiches action (French text from the word lists below: accents, plurals, random
départements, dimensions, keywords, years) as a CSV in the importer's format, then for each backend
(a PostgreSQL database `parentalites_bench_<random>` made for the run and dropped at the end, and a
SQLite file in a temporary directory), after the Alembic migrations:

1. times `import_actions` of the CSV (records/s; on PostgreSQL a `VACUUM ANALYZE` follows, timed
   apart, as autovacuum would do it after a bulk load);
2. times ~10 simple French queries through `contributions.directory.search` (what `/actions/` calls,
   facets included, page 1 of 20) and through a naive baseline written here (`ILIKE '%word%'` on
   PostgreSQL, `LIKE` on SQLite, every word ANDed, over title, summary and description; one query
   with `count(*) OVER ()` for the total and the first page of 20, then the page's fiches loaded as
   the directory loads them): median and p95 over up to --repeat runs after one warm-up run (a
   measure stops after 3 runs once --budget seconds have gone into it: a slow query costs minutes);
3. times `GET /actions/?q=…` end to end through Flask's test client (median of --repeat).

Prints a table per backend with the number of results of each method and how many they share, the
ratio FTS time / baseline time per query (lower is better), and last the machine-readable lines
`import_rate_<backend>: N`, `page_median_ms_<backend>: X.X` and `search_ratio_<backend>: X.XX` (the
sum of the directory's medians over the sum of the baseline's medians for the query list).
"""
from __future__ import annotations

import argparse
import csv
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

QUERIES = [
    "parents",            # nearly everywhere
    "crèche",             # accented, singular for crèche/crèches
    "jardins partagés",   # two words, plural for jardin partagé
    "santé",
    "bénévoles",
    "numérique",
    "vacances familles",
    "soutien scolaire",
    "adolescents écrans",
    "apiculture",         # rare
    "piscine",            # rare
]
PAGE_QUERY = "jardins partagés"

# --- Synthetic fiches action --------------------------------------------------------------------------

DEPARTEMENTS = [
    "Ain", "Aisne", "Allier", "Alpes-de-Haute-Provence", "Hautes-Alpes", "Alpes-Maritimes", "Ardèche",
    "Ardennes", "Ariège", "Aube", "Aude", "Aveyron", "Bouches-du-Rhône", "Calvados", "Cantal", "Charente",
    "Charente-Maritime", "Cher", "Corrèze", "Corse-du-Sud", "Haute-Corse", "Côte-d'Or", "Côtes-d'Armor",
    "Creuse", "Dordogne", "Doubs", "Drôme", "Eure", "Eure-et-Loir", "Finistère", "Gard", "Haute-Garonne",
    "Gers", "Gironde", "Hérault", "Ille-et-Vilaine", "Indre", "Indre-et-Loire", "Isère", "Jura", "Landes",
    "Loir-et-Cher", "Loire", "Haute-Loire", "Loire-Atlantique", "Loiret", "Lot", "Lot-et-Garonne", "Lozère",
    "Maine-et-Loire", "Manche", "Marne", "Haute-Marne", "Mayenne", "Meurthe-et-Moselle", "Meuse", "Morbihan",
    "Moselle", "Nièvre", "Nord", "Oise", "Orne", "Pas-de-Calais", "Puy-de-Dôme", "Pyrénées-Atlantiques",
    "Hautes-Pyrénées", "Pyrénées-Orientales", "Bas-Rhin", "Haut-Rhin", "Rhône", "Haute-Saône",
    "Saône-et-Loire", "Sarthe", "Savoie", "Haute-Savoie", "Paris", "Seine-Maritime", "Seine-et-Marne",
    "Yvelines", "Deux-Sèvres", "Somme", "Tarn", "Tarn-et-Garonne", "Var", "Vaucluse", "Vendée", "Vienne",
    "Haute-Vienne", "Vosges", "Yonne", "Territoire de Belfort", "Essonne", "Hauts-de-Seine",
    "Seine-Saint-Denis", "Val-de-Marne", "Val-d'Oise", "Guadeloupe", "Martinique", "Guyane", "La Réunion",
    "Mayotte",
]
DIMENSIONS = ["Services", "Citoyenneté", "Accompagnement de projets", "Animation globale",
              "Participation des habitants", "Développement social local"]
KEYWORDS = ["Parentalité", "Petite enfance", "éducation / scolarité", "Santé", "Insertion",
            "développement durable", "intergénérationnel", "vacances / loisirs", "Culture", "Numérique",
            "Jeunesse", "Handicap", "Alimentation", "Sport", "Accès aux droits", "Logement", "Mobilité",
            "Lutte contre l'isolement", "Égalité femmes-hommes", "Vieillissement", "Intégration", "Emploi",
            "Lien social", "Citoyenneté", "Accompagnement à la scolarité"]
PUBLICS = ["familles", "Petite enfance", "Enfants", "Adolescents", "Jeunes adultes", "Adultes", "Seniors",
           "Tous publics", "Parents d'adolescents", "Personnes en situation de handicap", "Habitants du quartier"]
INITIATIVES = ["Le centre social", "Un groupe d'habitants", "Un ou plusieurs partenaire(s)", "Autre"]
TERRITORIES = ["Un quartier", "Plusieurs quartiers", "Une commune", "Plusieurs communes", "Un département"]
PARTNERS = ["CAF", "PMI", "Conseil départemental", "Mairie", "Collège Jean-Jaurès", "École élémentaire Jules-Ferry",
            "UDAF", "Mission locale", "Médiathèque", "CCAS", "Bailleur social", "Association de quartier",
            "France Travail", "Maison de santé", "Réaap", "ARS", "Éducation nationale", "Ludothèque municipale",
            "Club de prévention", "Maison des adolescents"]
STRUCTURE_KINDS = ["Centre social", "Espace de vie sociale", "Maison pour tous", "Centre socioculturel",
                   "Association", "Maison des familles", "MJC"]
STRUCTURE_NAMES = ["Les Tilleuls", "Jean-Jaurès", "La Passerelle", "Le Colombier", "Les Églantiers",
                   "Pierre-Mendès-France", "L'Arc-en-ciel", "La Roseraie", "Les Quatre-Chemins", "Saint-Exupéry",
                   "Louise-Michel", "Le Trèfle", "La Clé des champs", "Les Hauts-de-Bièvre", "Simone-Veil",
                   "Le Moulin", "Les Sablons", "La Fontaine", "Victor-Hugo", "Les Châtaigniers", "Le Phare",
                   "Aimé-Césaire", "La Source", "Les Coquelicots", "Élan", "Le Pont", "Les Lilas", "L'Îlot"]

TITLE_HEADS = ["Café des parents", "Atelier parents-enfants", "Jardin partagé", "Aide aux devoirs",
               "Sortie familles", "Crèche parentale", "Ludothèque itinérante", "Groupe de parole",
               "Soirée jeux en famille", "Atelier cuisine", "Accompagnement à la scolarité",
               "Permanence d'accès aux droits", "Atelier numérique", "Vacances familles", "Fête de quartier",
               "Repair café", "Atelier couture", "Éveil musical des tout-petits", "Lieu d'accueil enfants-parents",
               "Marche santé", "Potager des écoliers", "Bourse aux vêtements", "Théâtre forum",
               "Week-end en famille", "Conférence-débat sur les écrans", "Ruches pédagogiques",
               "Apprendre à nager en famille", "Soutien scolaire", "Bébés lecteurs", "Jardins familiaux"]
TITLE_TAILS = ["", "", "", " du mercredi", " au pied des tours", " du samedi matin",
               " pour les familles monoparentales", " avec les grands-parents", " en soirée", " des Quatre-Chemins",
               " : un outil de lien social",
               " pendant l'été", " à la médiathèque", " et santé", " des collégiens"]

PLURAL_SUBJECTS = ["Les parents", "Des familles", "Les habitants du quartier", "Les enfants", "Les adolescents",
                   "Des bénévoles", "Les mamans", "Des pères", "Les grands-parents", "Les jeunes",
                   "Des familles monoparentales", "Les animatrices", "Des professionnels de la petite enfance",
                   "Les assistantes maternelles", "Les collégiens", "Des voisins"]
SINGULAR_SUBJECTS = ["L'équipe du centre social", "Une animatrice famille", "Le référent famille",
                     "Une psychologue", "Un éducateur spécialisé", "La conseillère en économie sociale et familiale",
                     "Une puéricultrice de la PMI", "Le collectif d'habitants", "Une bénévole retraitée"]
PLURAL_VERBS = ["se retrouvent {moment}", "cultivent {jardin}", "préparent des repas {repas}",
                "échangent sur {theme}", "participent à des ateliers de {atelier}",
                "accompagnent les enfants dans leurs devoirs", "organisent une sortie {sortie}",
                "découvrent {decouverte}", "rencontrent des professionnels de {pro}",
                "construisent ensemble {projet}", "animent {animation}", "partagent leurs expériences sur {theme}"]
SINGULAR_VERBS = ["anime {animation}", "accueille les familles {moment}", "propose des ateliers de {atelier}",
                  "accompagne les parents sur {theme}", "organise une sortie {sortie}", "coordonne {projet}",
                  "oriente les familles vers {partenaire}"]
COMPLEMENTS = ["", "", " avec l'aide de {partenaire}", " dans les locaux du centre social",
               " pendant les vacances scolaires", " au pied des immeubles", " en lien avec l'école",
               " à la médiathèque", " dans le quartier", " en soirée", " autour d'un café", " avec les tout-petits",
               " dans une ambiance conviviale", " grâce au soutien de {partenaire}"]
SLOTS = {
    "jour": ["lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
    "moment": ["chaque {jour} matin", "le {jour} après-midi", "une fois par mois", "tous les quinze jours",
               "pendant les vacances d'été", "chaque semaine"],
    "jardin": ["des jardins partagés", "un potager", "le jardin partagé du quartier", "des carrés potagers",
               "des légumes et des fleurs"],
    "theme": ["la scolarité", "le sommeil des tout-petits", "les écrans", "l'adolescence", "l'alimentation",
              "la santé des enfants", "le harcèlement scolaire", "l'orientation", "les relations frères et sœurs",
              "l'autorité", "la séparation des parents", "les émotions", "la place des pères",
              "l'usage des réseaux sociaux", "la vie affective", "les addictions", "le handicap"],
    "atelier": ["cuisine", "couture", "théâtre", "musique", "bricolage", "peinture", "jeux de société",
                "numérique", "lecture", "sophrologie", "yoga parents-enfants", "cirque", "photographie",
                "jardinage", "écriture", "danse"],
    "sortie": ["à la mer", "à la montagne", "au musée", "au zoo", "au théâtre", "à la ferme pédagogique",
               "en forêt", "au bord du lac", "au château de Versailles", "au cinéma", "au parc d'attractions",
               "à la base de loisirs"],
    "decouverte": ["les outils numériques", "les démarches en ligne", "la médiathèque", "les associations sportives",
                   "les métiers de la petite enfance", "les plantes aromatiques", "les jeux coopératifs"],
    "pro": ["la santé", "l'éducation", "la petite enfance", "l'insertion", "la justice",
            "la protection maternelle et infantile"],
    "projet": ["un séjour de vacances", "une fête de quartier", "un spectacle", "un livre de recettes",
               "une exposition photo", "un journal de quartier", "une bourse aux vêtements", "un repair café",
               "une ludothèque"],
    "animation": ["un groupe de parole", "un café des parents", "un atelier parents-enfants", "des soirées jeux",
                  "un lieu d'accueil enfants-parents", "une permanence d'accès aux droits", "des conférences-débats",
                  "un temps d'éveil pour les bébés", "un soutien scolaire"],
    "repas": ["équilibrés", "du monde", "de saison", "à petit budget", "partagés"],
    "partenaire": PARTNERS,
    "constat": ["pas assez de places d'accueil pour les tout-petits",
                "des familles isolées qui ne sortent pas du quartier",
                "des parents démunis face aux écrans", "peu de lieux conviviaux pour les parents",
                "des difficultés scolaires dès le CP", "un accès aux soins difficile",
                "des jeunes désœuvrés pendant l'été", "des mères seules avec de jeunes enfants",
                "une crèche saturée et une longue liste d'attente"],
    "objectif": ["rompre l'isolement des familles", "renforcer le lien social",
                 "soutenir les parents dans leur rôle éducatif",
                 "favoriser la réussite scolaire", "valoriser les compétences des habitants",
                 "prévenir les risques liés aux écrans", "améliorer l'accès aux droits",
                 "développer l'autonomie des jeunes", "encourager la mixité sociale",
                 "promouvoir une alimentation saine", "accompagner la parentalité",
                 "offrir des vacances aux familles qui ne partent pas"],
}
RARE_SENTENCES = [  # a few fiches only: the rare queries
    "Un apiculteur bénévole initie les enfants à l'apiculture autour des ruches du jardin.",
    "Les familles apprennent à nager ensemble à la piscine municipale le samedi matin.",
    "Une sortie à la piscine clôt chaque trimestre.",
]
RESULTS = ["Les familles se connaissent mieux et s'entraident.", "Le nombre d'adhérents a augmenté de {n} %.",
           "Des parents sont entrés au conseil d'administration.", "Les enfants ont gagné en confiance.",
           "Les partenaires orientent davantage de familles vers le centre social.",
           "Des habitants qui ne se parlaient pas jardinent ensemble.", "Les pères viennent plus nombreux."]
LIMITS = ["Le financement n'est pas assuré au-delà de {year}.", "Difficile de mobiliser les pères.",
          "Le local est trop petit.", "Peu de bénévoles disponibles en semaine.",
          "Les familles les plus éloignées ne viennent pas encore."]
PERSPECTIVES = ["Étendre l'action à {k} quartiers voisins.", "Ouvrir une deuxième session le samedi.",
                "Associer davantage les collèges.", "Former des parents relais.",
                "Créer un guide des ressources pour les familles."]
FINANCES = ["Prestation de service de la CAF ({n} €).", "Subvention du Conseil départemental.",
            "Réaap : {n} € par an.", "Participation des familles : {m} € par séance.",
            "Fonds propres du centre social."]
END_REASONS = ["Fin du financement.", "Le terrain a été repris par la ville.", "L'animatrice est partie.",
               "Le projet a atteint ses objectifs."]


class Writer:
    """French-like text from the lists above, reproducible from a seed."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def fill(self, template: str) -> str:
        while "{" in template:
            start = template.index("{")
            end = template.index("}", start)
            name = template[start + 1:end]
            if name == "n":
                value = str(self.rng.randint(3, 60))
            elif name == "m":
                value = str(self.rng.randint(1, 15))
            elif name == "k":
                value = str(self.rng.randint(2, 5))
            elif name == "year":
                value = str(self.rng.randint(2024, 2030))
            else:
                value = self.rng.choice(SLOTS[name])
            template = template[:start] + value + template[end + 1:]
        return template

    def sentence(self) -> str:
        if self.rng.random() < 0.65:
            text = self.rng.choice(PLURAL_SUBJECTS) + " " + self.rng.choice(PLURAL_VERBS)
        else:
            text = self.rng.choice(SINGULAR_SUBJECTS) + " " + self.rng.choice(SINGULAR_VERBS)
        text += self.rng.choice(COMPLEMENTS)
        return self.fill(text) + "."

    def paragraph(self, low: int, high: int) -> str:
        return " ".join(self.sentence() for _ in range(self.rng.randint(low, high)))

    def description(self) -> str:
        rng = self.rng
        lines = [f"Constat : {self.fill('{constat}')}.", self.paragraph(3, 6), "Objectifs :"]
        lines += ["- " + self.fill("{objectif}") + " ;" for _ in range(rng.randint(2, 4))]
        lines.append(self.paragraph(3, 7))
        lines.append(self.fill("{n} familles ont participé la première année, dont {m} familles monoparentales."))
        if rng.random() < 0.004:
            lines.append(rng.choice(RARE_SENTENCES))
        return "\n".join(lines)

    def maybe(self, probability: float, make) -> str:
        return make() if self.rng.random() < probability else ""

    def some(self, items: list[str], low: int, high: int) -> list[str]:
        return self.rng.sample(items, self.rng.randint(low, high))


CSV_HEADER = ["titre", "structure", "département", "année", "statut", "raison_fin", "dimension", "mots_clés",
              "résumé", "initiative", "precision_initiative", "territoire", "description", "public", "partenaires",
              "description_partenariat", "ressources_financieres", "personnes_mobilisees", "resultat_territoire",
              "resultat_centre_social", "resultat_habitants", "limites", "perspectives", "fichiers", "contact"]


def _list_cell(rng: random.Random, items: list[str]) -> str:
    # Both separators the importer accepts: "a | b" and one "- item" per line.
    return " | ".join(items) if rng.random() < 0.7 else "\n".join("- " + item for item in items)


def generate_csv(path: Path, count: int, seed: int) -> int:
    """Write `count` fiches (distinct import keys) to `path`; returns the file's size in bytes."""
    rng = random.Random(seed)
    w = Writer(rng)
    structures = [(f"{rng.choice(STRUCTURE_KINDS)} {rng.choice(STRUCTURE_NAMES)}", rng.choice(DEPARTEMENTS))
                  for _ in range(max(50, count // 12))]
    seen: set[tuple] = set()
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f, delimiter=";", quoting=csv.QUOTE_MINIMAL)
        out.writerow(CSV_HEADER)
        for n in range(count):
            structure, departement = rng.choice(structures)
            year = rng.choice([2012, 2013, 2014, 2015, 2016, 2017, 2018, 2019, 2020, 2021, 2022, 2023, 2024, 2025,
                               2023, 2024, 2025])
            title = rng.choice(TITLE_HEADS) + rng.choice(TITLE_TAILS)
            if (title, structure, departement, year) in seen:
                title += f" (saison {n})"
            seen.add((title, structure, departement, year))
            status = rng.choices(["En cours", "Terminée", ""], [60, 35, 5])[0]
            if rng.random() < 0.05:  # département only in "Structure - Département", as in the export
                structure_cell, departement_cell = f"{structure} - {departement}", ""
            else:
                structure_cell, departement_cell = structure, departement
            initiative = w.some(INITIATIVES, 1, 2)
            slug = f"fiche{n}"
            row = [
                title, structure_cell, departement_cell, str(year), status,
                rng.choice(END_REASONS) if status == "Terminée" and rng.random() < 0.7 else "",
                w.maybe(0.9, lambda: rng.choice(DIMENSIONS)),
                _list_cell(rng, w.some(KEYWORDS, 1, 4)),
                w.paragraph(2, 4),
                _list_cell(rng, initiative),
                w.fill("Un contact ({partenaire}) a réuni les premières familles.") if "Autre" in initiative else "",
                rng.choice(TERRITORIES),
                w.description(),
                _list_cell(rng, w.some(PUBLICS, 1, 3)),
                _list_cell(rng, w.some(PARTNERS, 0, 4)),
                w.maybe(0.5, lambda: w.paragraph(1, 3)),
                w.maybe(0.6, lambda: " ".join(w.fill(s) for s in w.some(FINANCES, 1, 3))),
                w.maybe(0.5, lambda: w.fill("{m} salariés et {n} bénévoles.")),
                w.maybe(0.5, lambda: w.fill(rng.choice(RESULTS)) + " " + w.paragraph(0, 2)),
                w.maybe(0.5, lambda: w.fill(rng.choice(RESULTS))),
                w.maybe(0.5, lambda: w.fill(rng.choice(RESULTS)) + " " + w.paragraph(0, 1)),
                w.maybe(0.4, lambda: w.fill(rng.choice(LIMITS))),
                w.maybe(0.5, lambda: w.fill(rng.choice(PERSPECTIVES))),
                w.maybe(0.2, lambda slug=slug: f"plaquette-{slug}.pdf"),
                w.maybe(0.7, lambda slug=slug: f"accueil@{slug}.example.org"),
            ]
            out.writerow(row)
    return path.stat().st_size


# --- The backends --------------------------------------------------------------------------------------

def use_database(url: str, data_dir: Path) -> None:
    """Point the app at `url` and migrate it, as tests/integration/test_i18n.py does."""
    from core import db, settings
    os.environ.update({"DATABASE_URL": url, "PARENTALITES_DATA_DIR": str(data_dir), "CELERY_BROKER_URL": "memory://",
                       "SECRET_KEY": "bench", "BASE_URL": "https://parentalites.example.org"})
    settings.reset_settings()
    db.reset_engine()
    from parentalites.bootstrap import bootstrap
    from parentalites.migrate import upgrade
    upgrade()
    bootstrap()  # the SQLite search index follows the import's flushes, as in the app


def release_database() -> None:
    from core import db, settings
    db.reset_engine()
    settings.reset_settings()


def pg_create() -> tuple[str, str]:
    import psycopg
    name = f"parentalites_bench_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://", 1) + f"/{name}"
    return name, url


def pg_drop(name: str) -> None:
    import psycopg
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- Measures ------------------------------------------------------------------------------------------

def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def import_csv(path: Path, fiches: int) -> dict:
    from contributions.importer import import_actions, parse_file
    from core.db import session
    started = time.perf_counter()
    parsed = parse_file(path)
    parse_seconds = time.perf_counter() - started
    assert len(parsed) == fiches and not any(r.error for r in parsed), "the generated CSV does not parse cleanly"
    del parsed
    db = session()

    def progress(line) -> None:
        progress.n += 1
        if progress.n % 5000 == 0:
            print(f"  … {progress.n} records", file=sys.stderr, flush=True)
    progress.n = 0
    started = time.perf_counter()
    report = import_actions(db, path, None, on_line=progress)
    db.commit()  # the bench is the command's boundary: the COMMIT is part of the import's time
    seconds = time.perf_counter() - started
    session.remove()
    if report.imported != fiches:
        raise SystemExit(f"import: {report.summary} (expected {fiches} imported)\n"
                         + "\n".join(str(line) for line in report.lines if line.outcome == "skipped")[:2000])
    return {"seconds": seconds, "parse_seconds": parse_seconds, "rate": fiches / seconds, "summary": report.summary}


def vacuum_analyze() -> float:
    """What autovacuum does after a bulk load: statistics for the planner, GIN pending lists merged."""
    from core.db import get_engine
    started = time.perf_counter()
    with get_engine().connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE contributions")
        conn.exec_driver_sql("VACUUM ANALYZE fiches_action")
        conn.exec_driver_sql("VACUUM ANALYZE structures")
    return time.perf_counter() - started


def directory_search(db, q: str):
    """What the /actions/ view does for ?q=…: page 1, facets, no filter."""
    from contributions import directory
    return directory.search(db, q, {}, page=1)


def _like_where(db, q: str) -> tuple[str, dict]:
    """Every word as ILIKE (PostgreSQL) / LIKE (SQLite) '%word%' over title, summary and description."""
    from contributions.models import visible_statuses_sql

    like = "ILIKE" if db.get_bind().dialect.name == "postgresql" else "LIKE"
    params, where = {}, []
    for n, word in enumerate(q.split()):
        params[f"w{n}"] = f"%{word}%"
        where.append(f"(c.title {like} :w{n} OR f.summary {like} :w{n} OR f.description {like} :w{n})")
    sql = ("FROM contributions c JOIN fiches_action f ON f.contribution_id = c.id "
           f"WHERE c.kind = 'fiche_action' AND c.status IN ({visible_statuses_sql()}) AND " + " AND ".join(where))
    return sql, params


def naive_search(db, q: str, per_page: int = 20):
    """The baseline: the total and page 1 in one statement, then the page's fiches loaded as the
    directory loads them."""
    from sqlalchemy import select, text
    from sqlalchemy.orm import selectinload

    from contributions.models import Contribution
    where, params = _like_where(db, q)
    rows = db.execute(text(f"SELECT c.id, count(*) OVER () AS total {where} "
                           "ORDER BY COALESCE(f.year, 0) DESC, c.title, c.id LIMIT :limit OFFSET 0"),
                      params | {"limit": per_page}).all()
    total = rows[0].total if rows else 0
    ids = [row.id for row in rows]
    loaded = {c.id: c for c in db.scalars(select(Contribution).where(Contribution.id.in_(ids)).options(
        selectinload(Contribution.fiche), selectinload(Contribution.structure)))} if ids else {}
    return total, [loaded[i] for i in ids]


def naive_ids(db, q: str) -> set[int]:
    from sqlalchemy import text
    where, params = _like_where(db, q)
    return {row[0] for row in db.execute(text(f"SELECT c.id {where}"), params)}


def timed(function, repeat: int, budget: float, warm_up: bool = True, min_runs: int = 3) -> tuple[list[float], object]:
    """One warm-up run, then up to `repeat` timed runs, each in a fresh session as a request has;
    stops early after `min_runs` timed runs once `budget` seconds have gone into the timed runs."""
    from core.db import session
    times: list[float] = []
    result = None
    for run in range(repeat + 1 if warm_up else repeat):
        db = session()
        started = time.perf_counter()
        result = function(db)
        elapsed = time.perf_counter() - started
        session.remove()
        if run or not warm_up:
            times.append(elapsed)
            if len(times) >= min_runs and sum(times) >= budget:
                break
    return times, result


def bench_queries(queries: list[str], repeat: int, budget: float) -> list[dict]:
    from contributions import directory
    from core.db import session
    rows = []
    for q in queries:
        fts_times, page = timed(lambda db, q=q: directory_search(db, q), repeat, budget)
        # Diagnostic only: the search's own warm-up has warmed what it reads; one run may do.
        match_times, _ = timed(lambda db, q=q: directory.matching_ids(db, q), repeat, budget,
                               warm_up=False, min_runs=1)
        naive_times, (naive_total, _page) = timed(lambda db, q=q: naive_search(db, q), repeat, budget)
        db = session()
        fts_set = set(directory.matching_ids(db, q) or {})
        like_set = naive_ids(db, q)
        session.remove()
        assert len(fts_set) == page.total and len(like_set) == naive_total
        rows.append({
            "q": q, "runs": len(fts_times), "fts_n": page.total, "like_n": naive_total,
            "common": len(fts_set & like_set),
            "fts_med": statistics.median(fts_times), "fts_p95": percentile(fts_times, 0.95),
            "match_med": statistics.median(match_times),
            "like_med": statistics.median(naive_times), "like_p95": percentile(naive_times, 0.95),
        })
        print(f"  {q!r}: directory {rows[-1]['fts_med'] * 1000:.1f} ms, baseline {rows[-1]['like_med'] * 1000:.1f} ms",
              file=sys.stderr, flush=True)
    return rows


def bench_page(q: str, repeat: int, budget: float, expected_total: int) -> list[float]:
    from parentalites.app import create_app
    app = create_app({"TESTING": True})
    client = app.test_client()
    times: list[float] = []
    for run in range(repeat + 1):
        started = time.perf_counter()
        response = client.get("/actions/", query_string={"q": q})
        elapsed = time.perf_counter() - started
        body = response.get_data(as_text=True)
        assert response.status_code == 200, response.status_code
        assert f"{expected_total:,}".replace(",", "") in body.replace("\u202f", "").replace("\xa0", ""), \
            "the page does not show the expected count"
        if run:
            times.append(elapsed)
            if len(times) >= 3 and sum(times) >= budget:
                break
    return times


def print_table(backend: str, rows: list[dict]) -> float:
    print(f"\n{backend}: search, page 1 of 20 (ms; median and p95 of the timed runs)")
    header = (f"{'query':<20} {'runs':>4} {'FTS n':>6} {'LIKE n':>6} {'common':>6} | "
              f"{'search':>8} {'p95':>8} {'(match)':>8} | {'LIKE':>8} {'p95':>8} | {'ratio':>6}")
    print(header)
    print("-" * len(header))
    for r in rows:
        print(f"{r['q']:<20} {r['runs']:>4} {r['fts_n']:>6} {r['like_n']:>6} {r['common']:>6} | "
              f"{r['fts_med'] * 1000:>8.1f} {r['fts_p95'] * 1000:>8.1f} {r['match_med'] * 1000:>8.1f} | "
              f"{r['like_med'] * 1000:>8.1f} {r['like_p95'] * 1000:>8.1f} | {r['fts_med'] / r['like_med']:>6.2f}")
    total_fts = sum(r["fts_med"] for r in rows)
    total_like = sum(r["like_med"] for r in rows)
    total_match = sum(r["match_med"] for r in rows)
    print(f"{'all queries (sum)':<46} | {total_fts * 1000:>8.1f} {'':>8} {total_match * 1000:>8.1f} | "
          f"{total_like * 1000:>8.1f} {'':>8} | {total_fts / total_like:>6.2f}")
    print("search: directory.search as /actions/ calls it (matching, facets over every match, page 1 loaded); "
          "(match): matching_ids alone (at least 1 run);\nLIKE: the naive baseline; common: fiches found by both; "
          "ratio: search / LIKE (lower is better)")
    return total_fts / total_like


def run_backend(backend: str, url: str, data_dir: Path, csv_path: Path, args) -> dict:
    print(f"\n== {backend} ==", flush=True)
    use_database(url, data_dir)
    result: dict = {}
    try:
        imported = import_csv(csv_path, args.fiches)
        print(f"import_actions: {imported['summary']} in {imported['seconds']:.1f} s = "
              f"{imported['rate']:.0f} records/s (parsing the CSV alone: {imported['parse_seconds']:.1f} s)",
              flush=True)
        result["import_rate"] = imported["rate"]
        if backend == "pg":
            print(f"VACUUM ANALYZE after the load: {vacuum_analyze():.1f} s", flush=True)
        rows = bench_queries(QUERIES, args.repeat, args.budget)
        result["ratio"] = print_table(backend, rows)
        page_total = next((r["fts_n"] for r in rows if r["q"] == args.page_query), None)
        if page_total is None:
            from contributions import directory
            from core.db import session
            page_total = directory.search(session(), args.page_query).total
            session.remove()
        page_times = bench_page(args.page_query, args.repeat, args.budget, page_total)
        result["page_median"] = statistics.median(page_times)
        search_median = next((r["fts_med"] for r in rows if r["q"] == args.page_query), None)
        alone = f" (directory.search alone, in the table above: {search_median * 1000:.1f} ms)" if search_median else ""
        print(f"\nGET /actions/?q={args.page_query} (test client, {page_total} results, {len(page_times)} runs): "
              f"median {result['page_median'] * 1000:.1f} ms, p95 {percentile(page_times, 0.95) * 1000:.1f} ms" + alone)
    finally:
        release_database()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fiches", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per query (after one warm-up)")
    parser.add_argument("--backends", default="pg,sqlite", help="comma-separated: pg, sqlite")
    parser.add_argument("--budget", type=float, default=10.0,
                        help="seconds of timed runs after which a measure stops early (at least 3 runs)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--page-query", default=PAGE_QUERY)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (CSV, SQLite file)")
    args = parser.parse_args()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]

    began = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="parentalites-bench-directory-"))
    results: dict[str, dict] = {}
    try:
        csv_path = work / "fiches.csv"
        started = time.perf_counter()
        size = generate_csv(csv_path, args.fiches, args.seed)
        print(f"fiches: {args.fiches}; CSV: {size / 1e6:.1f} MB ({size / args.fiches:.0f} bytes per fiche), "
              f"written in {time.perf_counter() - started:.1f} s; up to {args.repeat} timed runs per measure "
          f"(at least 3, fewer once {args.budget:g} s are spent), after a warm-up", flush=True)
        for backend in backends:
            if backend == "pg":
                name, url = pg_create()
                try:
                    results["pg"] = run_backend("pg", url, work / "data-pg", csv_path, args)
                finally:
                    pg_drop(name)
            elif backend == "sqlite":
                results["sqlite"] = run_backend("sqlite", f"sqlite:///{work / 'directory.sqlite'}",
                                                work / "data-sqlite", csv_path, args)
            else:
                parser.error(f"unknown backend {backend!r}")
    finally:
        if args.keep:
            print(f"kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\nbench wall time: {time.perf_counter() - began:.0f} s")
    for backend, r in results.items():
        print(f"import_rate_{backend}: {r['import_rate']:.0f}")
    for backend, r in results.items():
        print(f"page_median_ms_{backend}: {r['page_median'] * 1000:.1f}")
    for backend, r in results.items():
        print(f"search_ratio_{backend}: {r['ratio']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
