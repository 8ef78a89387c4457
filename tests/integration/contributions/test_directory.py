"""The directory of actions: French search on PostgreSQL and on SQLite (same results), facets,
pagination, the fiche page, the Atom feed, and a fiche placed in a letter."""
from __future__ import annotations

import contextlib
import re
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest
from sqlalchemy import select, text

from contributions import directory
from contributions.importer import import_actions
from contributions.models import (
    Contribution,
    ContributionKind,
    FicheAction,
    Structure,
    StructureKind,
)
from contributions.models import (
    ContributionStatus as S,
)
from core.db import SessionFactory
from tests.conftest import FIXTURES, shared_path
from tests.integration.helpers import login


class Tags(HTMLParser):
    """Every start tag of a page with its attributes."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, list]] = []

    def handle_starttag(self, tag, attrs):
        self.found.append((tag, attrs))

SAMPLE = FIXTURES / "actions_sample.txt"
QUERIES = ["parents", "parent", "crèche", "creche", "crèches", "jardins", "jardin", "santé", "sante",
           "familles", "Parentalité", "PARENTALITE", "lien social", '"lien social"', "enfants -jardin",
           "jardin or crèche", "petite enfance", "bénévoles", "centre social", "Seine-Saint-Denis",
           "l'école", "les", "quartier", "-parents", "--parents", "enfants --jardin"]


def make_fiche(db, structure, title, status=S.accepted, **fields) -> Contribution:
    body = fields.pop("body_md", "")
    c = Contribution(structure_id=structure.id, kind=ContributionKind.fiche_action, status=status, title=title,
                     body_md=body, source="partner")
    c.fiche = FicheAction(**fields)
    db.add(c)
    db.commit()
    return c


@pytest.fixture
def structure(db):
    s = Structure(name="Centre social Les Tilleuls", kind=StructureKind.centre_social, commune="Bobigny",
                  departement="Seine-Saint-Denis")
    db.add(s)
    db.commit()
    return s


def titles(page) -> set[str]:
    return {c.title for c in page.results}


# --- Search on PostgreSQL ----------------------------------------------------------------------------

def test_french_search_folds_accents_and_plurals(db, structure):
    make_fiche(db, structure, "Crèche parentale", summary="Des parents gèrent la crèche.", keywords=["Petite enfance"])
    make_fiche(db, structure, "Jardins partagés", summary="Cultiver un jardin, prendre soin de sa santé.")
    make_fiche(db, structure, "Un brouillon sur les crèches", status=S.draft)
    make_fiche(db, structure, "Proposée, pas encore acceptée : crèche", status=S.submitted)
    make_fiche(db, structure, "Refusée : crèche", status=S.rejected)
    make_fiche(db, structure, "Publiée : la crèche du marché", status=S.published)
    for q in ("creche", "crèches", "CRÈCHE"):
        assert titles(directory.search(db, q)) == {"Crèche parentale", "Publiée : la crèche du marché"}, q
    assert titles(directory.search(db, "jardin")) == {"Jardins partagés"}
    assert titles(directory.search(db, "sante")) == {"Jardins partagés"}
    assert titles(directory.search(db, "parent")) == {"Crèche parentale"}
    assert titles(directory.search(db, "crèche -parents")) == {"Publiée : la crèche du marché"}
    assert titles(directory.search(db, "jardin or marché")) == {"Jardins partagés", "Publiée : la crèche du marché"}
    # Words split between the title and the fiche are found together.
    assert titles(directory.search(db, "jardins santé")) == {"Jardins partagés"}
    assert titles(directory.search(db, "")) == {"Crèche parentale", "Jardins partagés", "Publiée : la crèche du marché"}


def test_the_gin_indexes_serve_the_search(db, structure):
    make_fiche(db, structure, "Crèche parentale", summary="Des parents gèrent la crèche.")
    query = directory.parse_query("parents crèche")
    with db.begin_nested():
        db.execute(text("SET LOCAL enable_seqscan = off"))
        plan = "\n".join(row[0] for row in db.execute(text(
            "EXPLAIN SELECT id FROM contributions WHERE kind = 'fiche_action' AND "
            f"{directory.pg_contribution_document()} @@ websearch_to_tsquery('french', :q) "
            f"UNION SELECT contribution_id FROM fiches_action WHERE {directory.pg_fiche_document()} "
            "@@ websearch_to_tsquery('french', :q)"), {"q": directory._websearch_text(query)}))
    assert "ix_contributions_search_fr" in plan and "ix_fiches_action_search_fr" in plan, plan


# --- The same results on SQLite ------------------------------------------------------------------------

@pytest.fixture
def sqlite_db(tmp_path):
    from alembic import command

    from core.db import make_engine
    from parentalites.migrate import alembic_config
    engine = make_engine(f"sqlite:///{tmp_path / 'directory.sqlite'}")
    with engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")
    session = SessionFactory(bind=engine)  # the project's sessionmaker: the FTS5 index follows its flushes
    yield session
    session.close()
    engine.dispose()


def load(db, paths: list[Path]) -> None:
    for path in paths:
        report = import_actions(db, path, None)
        assert report.skipped == 0, str(report)
    extra = db.scalar(select(Structure).where(Structure.name == "Maison pour tous Les Sablons"))
    make_fiche(db, extra, "Un brouillon de jardin", status=S.draft, summary="Jardins et parents.")
    make_fiche(db, extra, "L'école des parents", body_md="Des soirées pour les parents d'élèves, à l'école.",
               keywords=["éducation / scolarité"], summary="Parentalité et santé des enfants.")


def test_postgresql_and_sqlite_give_the_same_results(db, sqlite_db):
    paths = [SAMPLE]
    with contextlib.suppress(pytest.skip.Exception, IndexError):  # the seed is optional here
        paths.append(sorted(shared_path("seeds").glob("004_*.txt"))[0])
    load(db, paths)
    load(sqlite_db, paths)
    assert sqlite_db.get_bind().dialect.name == "sqlite" and db.get_bind().dialect.name == "postgresql"
    compared = 0
    for q in QUERIES:
        on_pg = directory.search(db, q, per_page=1000)
        on_sqlite = directory.search(sqlite_db, q, per_page=1000)
        assert titles(on_pg) == titles(on_sqlite), q
        assert on_pg.total == on_sqlite.total
        compared += on_pg.total
    assert compared > 20  # the queries do find something
    assert titles(directory.search(db, "creche")) >= {"Une crèche parentale au pied des tours"}
    assert "Un brouillon de jardin" not in titles(directory.search(sqlite_db, "jardin"))

    def facets(session):
        return {f.name: {(v.value, v.count) for v in f.values} for f in directory.search(session, "parents").facets}

    assert facets(db) == facets(sqlite_db)


def test_sqlite_index_follows_every_write(sqlite_db):
    db = sqlite_db
    s = Structure(name="Centre social du Marché", kind=StructureKind.centre_social, departement="Isère")
    db.add(s)
    db.commit()
    c = make_fiche(db, s, "Atelier vélo", summary="Réparer les vélos en famille.")
    assert titles(directory.search(db, "réparer")) == {"Atelier vélo"}
    c.fiche.summary = "Apprendre à nager en famille."
    db.commit()
    assert titles(directory.search(db, "reparer")) == set()
    assert titles(directory.search(db, "nager")) == {"Atelier vélo"}
    c.title = "Piscine en famille"
    db.commit()
    assert titles(directory.search(db, "piscine")) == {"Piscine en famille"}
    db.delete(c)
    db.commit()
    assert db.execute(text("SELECT count(*) FROM fiche_search")).scalar() == 0
    # Rows written behind the ORM's back: the index is rebuilt when it no longer counts the fiches.
    c = make_fiche(db, s, "Ludothèque", summary="Jeux de société.")
    db.execute(text("DELETE FROM fiche_search"))
    db.commit()
    assert titles(directory.search(db, "jeux")) == {"Ludothèque"}


# --- Facets and pages ------------------------------------------------------------------------------------

def test_facets_count_and_combine_with_the_query(db, structure):
    other = Structure(name="Maison des familles", kind=StructureKind.autre, departement="Isère")
    db.add(other)
    db.commit()
    make_fiche(db, structure, "Café des parents", departement="Seine-Saint-Denis", year=2024, dimension="Services",
               keywords=["Parentalité", "Santé"], public=["familles"], action_status="en_cours",
               summary="Les parents se retrouvent.")
    make_fiche(db, structure, "Sortie familles", departement="Seine-Saint-Denis", year=2023, dimension="Citoyenneté",
               keywords=["vacances / loisirs"], public=["familles"], action_status="terminee",
               summary="Une journée à la mer avec les parents.")
    make_fiche(db, other, "Groupe de parole", year=2024, keywords=["Parentalité"], public=["Adultes"],
               action_status="en_cours", summary="Un groupe de parole pour les parents.")
    page = directory.search(db, "parents")
    facets = {f.name: {v.value: v.count for v in f.values} for f in page.facets}
    # The structure's département stands in for a fiche that has none.
    assert facets["departement"] == {"93": 2, "38": 1}  # by code, whichever way it was written
    assert facets["mot_cle"] == {"Parentalité": 2, "Santé": 1, "vacances / loisirs": 1}
    assert facets["statut"] == {"en_cours": 2, "terminee": 1}
    assert facets["annee"] == {"2024": 2, "2023": 1}
    narrowed = directory.search(db, "parents", {"mot_cle": ["Parentalité"], "annee": ["2024"]})
    assert titles(narrowed) == {"Café des parents", "Groupe de parole"}
    narrowed = directory.search(db, "parents", {"mot_cle": ["Parentalité"], "departement": ["Isère"]})
    assert titles(narrowed) == {"Groupe de parole"}
    counts = {f.name: {v.value: (v.count, v.selected) for v in f.values} for f in narrowed.facets}
    # A facet counts what each of its values would give with the other facets as they are.
    assert counts["departement"] == {"38": (1, True), "93": (1, False)}
    both = directory.search(db, "", {"departement": ["Isère", "Seine-Saint-Denis"], "statut": ["en_cours"]})
    assert titles(both) == {"Café des parents", "Groupe de parole"}


def test_the_directory_page_searches_filters_and_paginates_without_javascript(client, db, structure):
    for n in range(25):
        make_fiche(db, structure, f"Atelier parents-enfants n°{n:02d}", departement="Seine-Saint-Denis",
                   year=2020 + n % 3, keywords=["Parentalité"], summary=f"Un atelier du mercredi, numéro {n}.")
    make_fiche(db, structure, "Jardin partagé", departement="Isère", summary="Jardiner ensemble.")
    page = client.get("/actions/").get_data(as_text=True)
    assert "26 actions" in page and 'aria-live="polite"' in page
    assert page.count('class="fiche-list"') == 1 and page.count("<h3><a href=\"/actions/") == 20
    assert 'href="/actions/?page=2"' in page and "<fieldset>" in page and "<legend>Département</legend>" in page
    assert 'type="checkbox" form="recherche"' in page and 'name="departement" value="38"' in page
    assert re.search(r'name="departement" value="93"[^>]*>\s*<label[^>]*>Seine-Saint-Denis \(93\) ', page)
    second = client.get("/actions/?page=2").get_data(as_text=True)
    assert second.count("<h3><a href=\"/actions/") == 6 and 'aria-current="page">2<' in second
    found = client.get("/actions/?q=jardins").get_data(as_text=True)
    assert "1 action" in found and "Jardin partagé" in found and "Atelier parents" not in found
    filtered = client.get("/actions/?q=atelier&annee=2020&departement=Seine-Saint-Denis").get_data(as_text=True)
    assert "9 actions" in filtered and "checked" in filtered
    assert "Retirer Année : 2020" in filtered
    none = client.get("/actions/?q=piscine").get_data(as_text=True)
    assert "Aucune action ne correspond" in none


def test_a_fiche_page_shows_every_filled_field_and_nothing_empty(client, db, world):
    report = import_actions(db, SAMPLE, world["editor"])
    db.commit()
    creche = db.scalar(select(Contribution).where(Contribution.title == "Une crèche parentale au pied des tours"))
    page = client.get(f"/actions/{creche.id}/").get_data(as_text=True)
    for expected in ("Centre social des Quatre-Chemins", "Seine-Saint-Denis", "2024", "En cours", "Services",
                     "Petite enfance", "Un groupe d&#39;habitants", "Une puéricultrice de la PMI voisine",
                     "Un quartier", "familles", "CAF", "PMI", "Prestation de service de la CAF",
                     "Ouvrir une deuxième section", "plaquette-creche.pdf",
                     "<li>réunions de parents pendant un an ;</li>"):
        assert expected in page, expected
    for absent in ("Résultat sur le territoire", "Suite de l&#39;action : limites", "Personnes mobilisées",
                   "Raisons pour lesquelles"):
        assert absent not in page, absent
    devoirs = db.scalar(select(Contribution).where(Contribution.title == "Devoirs en famille"))
    page = client.get(f"/actions/{devoirs.id}/").get_data(as_text=True)
    assert "Statut de l&#39;action" not in page and "Dimension" not in page and "Collège Jean-Jaurès" in page
    assert report.imported == 3


def test_only_accepted_or_published_fiches_have_a_page(client, db, structure):
    hidden = [make_fiche(db, structure, f"Fiche {status.value}", status=status)
              for status in (S.draft, S.submitted, S.changes_requested, S.rejected, S.withdrawn)]
    for c in hidden:
        assert client.get(f"/actions/{c.id}/").status_code == 404
    shown = make_fiche(db, structure, "Fiche publiée", status=S.published)
    assert client.get(f"/actions/{shown.id}/").status_code == 200
    news = Contribution(structure_id=structure.id, kind=ContributionKind.actualite, status=S.accepted, title="Actu")
    db.add(news)
    db.commit()
    assert client.get(f"/actions/{news.id}/").status_code == 404


def test_hostile_text_in_a_fiche_is_sanitized(client, db, structure):
    payloads = ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '[clic](javascript:alert(1))',
                '<a href="javascript:alert(1)">x</a>', '<style>body{display:none}</style>',
                '<iframe src="https://evil.example"></iframe>', '<svg onload=alert(1)>']
    c = make_fiche(db, structure, "Fiche <b>piégée</b>", summary="\n".join(payloads), limits="\n".join(payloads),
                   keywords=['<script>alert("k")</script>'])
    page = client.get(f"/actions/{c.id}/").get_data(as_text=True)
    listing = client.get("/actions/").get_data(as_text=True)
    feed = client.get("/actions/feed.atom").get_data(as_text=True)
    for html in (page, listing):
        tags = Tags()
        tags.feed(html)
        names = [t for t, _a in tags.found]
        assert "script" not in names and "iframe" not in names and "svg" not in names and "img" not in names
        assert "style" not in names  # the stylesheet is site.css, never inline
        for tag, attributes in tags.found:
            assert not any(name.startswith("on") for name, _v in attributes), tag
            assert not any((value or "").strip().lower().startswith("javascript:") for _n, value in attributes), tag
    assert "<b>piégée</b>" not in page and "Fiche &lt;b&gt;piégée&lt;/b&gt;" in page
    parsed = feedparser.parse(feed)
    content = parsed.entries[0].content[0].value
    tags = Tags()
    tags.feed(content)
    assert {t for t, _a in tags.found} <= {"p", "a", "strong", "em", "ul", "li"}
    assert not any(name.startswith("on") or (value or "").startswith("javascript:")
                   for _t, attributes in tags.found for name, value in attributes)
    raw_content = feed.split("<content", 1)[1].split("</content>", 1)[0]
    assert "&lt;script" not in raw_content and "&lt;img" not in raw_content  # only as text (&amp;lt;)


def test_the_atom_feed_lists_the_visible_fiches_newest_first(client, db, structure):
    make_fiche(db, structure, "Première fiche", summary="Un **premier** résumé.", keywords=["Parentalité"])
    make_fiche(db, structure, "Fiche en attente", status=S.submitted)
    make_fiche(db, structure, "Seconde fiche", status=S.published)
    response = client.get("/actions/feed.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert feed.bozo == 0
    assert [e.title for e in feed.entries] == ["Seconde fiche", "Première fiche"]
    first = feed.entries[1]
    assert first.link.startswith("https://parentalites.test/actions/")
    assert "<strong>premier</strong>" in first.content[0].value
    assert first.tags[0].term == "Parentalité"


# --- A fiche in a letter ---------------------------------------------------------------------------------

def test_an_accepted_fiche_can_be_placed_in_a_letter_and_links_to_its_page(client, db, world):
    from newsletter import issues, mailout
    import_actions(db, SAMPLE, world["editor"])
    creche = db.scalar(select(Contribution).where(Contribution.title == "Une crèche parentale au pied des tours"))
    issue = issues.create_issue(db, world["editor"], 7, "Numéro de test", date(2026, 12, 1))
    db.commit()
    login(client, "redaction@reaap.test", "mdp-redaction")
    composer = client.get(f"/redaction/numeros/{issue.id}").get_data(as_text=True)
    assert "Une crèche parentale au pied des tours" in composer
    item = issues.add_item(db, issue, creche)
    assert item.rubrique == "parentalite"
    rendered = mailout.render_letter(issue)
    web = mailout.render_web_version(issue)
    link = f"https://parentalites.test/actions/{creche.id}/"
    for out in (rendered.html, rendered.text, web):
        assert link in out and "Une crèche parentale au pied des tours" in out
        assert "Six familles du quartier" in out  # the summary, not the whole description
        assert "Centre social des Quatre-Chemins" in out
    assert "agrément de la PMI" not in rendered.text


# --- Normalised facets (issue 13 #24) ------------------------------------------------------------------

@pytest.fixture(params=["postgresql", "sqlite"])
def any_db(request):
    return request.getfixturevalue("db" if request.param == "postgresql" else "sqlite_db")


def spelled_every_way(db):
    """Fiches written before the départements were normalised (or outside the forms): the model
    takes the text as it comes."""
    tilleuls = Structure(name="Centre social Les Tilleuls", kind=StructureKind.centre_social, departement="93")
    isere = Structure(name="Maison des familles", kind=StructureKind.autre, departement="Isère")
    old = Structure(name="Ancienne structure", kind=StructureKind.autre, departement="seine-saint-denis")
    db.add_all([tilleuls, isere, old])
    db.commit()
    make_fiche(db, tilleuls, "Café des parents", departement="93", keywords=["Parentalité", "Santé"],
               summary="Un café.", dimension="Services")
    make_fiche(db, tilleuls, "Goûter partagé", departement="Seine-Saint-Denis", keywords=["parentalité"],
               summary="Un goûter.", dimension="services")
    make_fiche(db, old, "Sortie à la mer", keywords=[" Parentalité ", "santé"], summary="Une sortie.")  # structure's
    make_fiche(db, isere, "Groupe de parole", departement="38", keywords=["Parentalité"], summary="Un groupe.")
    make_fiche(db, isere, "Jardin", departement="Île-de-France", summary="Un jardin.")


def test_facets_merge_a_departement_written_as_number_and_as_name(any_db):
    db = any_db
    spelled_every_way(db)
    page = directory.search(db, "")
    facets = {f.name: [(v.value, v.label, v.count) for v in f.values] for f in page.facets}
    assert facets["departement"] == [("93", "Seine-Saint-Denis (93)", 3), ("Île-de-France", "Île-de-France", 1),
                                     ("38", "Isère (38)", 1)]
    # Case-folded keywords: one value, shown in its most frequent spelling.
    assert facets["mot_cle"] == [("Parentalité", "Parentalité", 4), ("Santé", "Santé", 2)]
    assert facets["dimension"] == [("Services", "Services", 2)]
    # A filter in any spelling selects the same fiches, and the value shows as ticked.
    for spelling in ("93", "Seine-Saint-Denis", "seine saint denis", "093"):
        chosen = directory.search(db, "", {"departement": [spelling]})
        assert titles(chosen) == {"Café des parents", "Goûter partagé", "Sortie à la mer"}, spelling
        [selected] = [v for f in chosen.facets if f.name == "departement" for v in f.values if v.selected]
        assert (selected.value, selected.count) == ("93", 3)
    assert titles(directory.search(db, "", {"mot_cle": ["PARENTALITÉ"]})) == {
        "Café des parents", "Goûter partagé", "Sortie à la mer", "Groupe de parole"}
    assert titles(directory.search(db, "", {"mot_cle": ["santé"], "departement": ["93"]})) == {
        "Café des parents", "Sortie à la mer"}


def test_searching_a_departement_by_name_finds_the_fiches_stored_by_code(any_db):
    db = any_db
    spelled_every_way(db)
    expected = {"Café des parents", "Goûter partagé", "Sortie à la mer"}
    assert titles(directory.search(db, "Seine-Saint-Denis")) == expected
    assert titles(directory.search(db, "93")) == expected
    assert titles(directory.search(db, "Isère")) == {"Groupe de parole"}
    assert titles(directory.search(db, "café Seine-Saint-Denis")) == {"Café des parents"}
    assert titles(directory.search(db, "parents -Seine-Saint-Denis")) == set()


def test_the_directory_page_shows_departements_by_name_and_code(client, db):
    spelled_every_way(db)
    page = client.get("/actions/").get_data(as_text=True)
    assert re.search(r'name="departement" value="93"[^>]*>\s*<label[^>]*>Seine-Saint-Denis \(93\) ', page)
    assert page.count('name="departement" value=') == 3
    assert "Centre social Les Tilleuls · Seine-Saint-Denis (93)" in page  # the result list
    assert page.count('name="mot_cle" value=') == 2
    filtered = client.get("/actions/?departement=Seine-Saint-Denis").get_data(as_text=True)
    assert "3 actions" in filtered
    assert re.search(r'name="departement" value="93" checked', filtered)
    # "Remove" takes the criterion away whichever spelling the address carried.
    assert 'href="/actions/">Retirer Département : Seine-Saint-Denis (93)' in filtered
    fiche = db.scalar(select(Contribution).where(Contribution.title == "Café des parents"))
    assert "Seine-Saint-Denis (93)" in client.get(f"/actions/{fiche.id}/").get_data(as_text=True)


def test_singular_and_plural_find_each_other_on_both_databases(db, sqlite_db, structure):
    """Issue 13, item 26: the Snowball stemmer reads « goûter » as a verb (goût) and « goûters » as a
    noun (goûter), so neither found the other. A word's other number is searched too, the same way
    on PostgreSQL and SQLite."""
    sqlite_structure = Structure(name="Maison des familles", kind=StructureKind.association)
    sqlite_db.add(sqlite_structure)
    sqlite_db.commit()
    for session, owner in ((db, structure), (sqlite_db, sqlite_structure)):
        make_fiche(session, owner, "Le goûter des familles", summary="Un goûter partagé le mercredi.")
        make_fiche(session, owner, "Des goûters pour tous", summary="Goûters et jeux à la sortie de l'école.")
        make_fiche(session, owner, "Ateliers cuisine", summary="Cuisiner ensemble.")
    both = {"Le goûter des familles", "Des goûters pour tous"}
    for q in ("goûter", "goûters", "gouters", "GOÛTER", "goûters -jeux", "atelier", "ateliers cuisine"):
        on_pg, on_sqlite = titles(directory.search(db, q)), titles(directory.search(sqlite_db, q))
        assert on_pg == on_sqlite, q
    assert titles(directory.search(db, "goûter")) == both
    assert titles(directory.search(db, "goûters")) == both
    assert titles(directory.search(sqlite_db, "gouters")) == both
    assert titles(directory.search(db, "goûters -jeux")) == {"Le goûter des familles"}
    assert titles(directory.search(sqlite_db, "ateliers cuisine")) == {"Ateliers cuisine"}
