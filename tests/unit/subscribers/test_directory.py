"""The editors' subscriber list (subscribers/directory.py): reading the query string (never an
error, whatever it holds), accent folding, the page window, and the CSV (BOM, `;`, formulas
defused). The queries themselves run on PostgreSQL in tests/integration/subscribers/test_admin.py."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite

from subscribers import directory
from subscribers.models import LegalBasis, SubscriberStatus


def test_filters_are_read_from_the_french_keys():
    f = directory.parse_filters({"q": "  Zoé   Lœuvre ", "statut": "active", "theme": "clas",
                                 "fonction": "referent_clas", "commune": "  Saint-Denis ", "departement": "2a",
                                 "page": "3"})
    assert (f.q, f.status, f.topic, f.role, f.commune, f.departement, f.page) == (
        "Zoé Lœuvre", SubscriberStatus.active, "clas", "referent_clas", "Saint-Denis", "2A", 3)
    assert f.problems == []
    assert f.words() == ["zoe", "loeuvre"]
    assert f.args(page=2) == {"q": "Zoé Lœuvre", "statut": "active", "theme": "clas", "fonction": "referent_clas",
                              "commune": "Saint-Denis", "departement": "2A", "page": 2}


@pytest.mark.parametrize("key,value,problem", [
    ("statut", "deleted", "Statut inconnu"),
    ("theme", "astrologie", "Thème inconnu"),
    ("fonction", "roi", "Fonction inconnue"),
    ("departement", "99", "Département inconnu"),
    ("departement", "<script>", "Département inconnu"),
])
def test_an_unknown_value_is_dropped_with_a_french_notice(key, value, problem):
    f = directory.parse_filters({key: value})
    assert not f.active
    assert len(f.problems) == 1 and f.problems[0].startswith(problem)


@pytest.mark.parametrize("raw,page", [
    ("99999999999999999999", 1), ("-3", 1), ("0", 1), ("abc", 1), ("", 1), ("²", 1), ("٣", 1), ("12", 12),
    ("999999999", 999999999),
])
def test_a_bad_page_number_gives_the_first_page(raw, page):
    assert directory.parse_filters({"page": raw}).page == page


@pytest.mark.parametrize("raw,code", [("93", "93"), ("1", "01"), ("01", "01"), ("2b", "2B"), ("971", "971"),
                                      ("976", "976"), ("20", None), ("00", None), ("977", None), ("96", None)])
def test_departement_codes(raw, code):
    assert directory.clean_departement(raw) == code


def test_a_long_search_is_cut_and_said():
    f = directory.parse_filters({"q": "a" * 500})
    assert len(f.q) == directory.MAX_QUERY_LENGTH and f.problems


def test_lists_and_control_characters_in_the_query_string():
    f = directory.parse_filters({"q": ["dupont", "x"], "commune": "Bobi\x00gny\n"})
    assert f.q == "dupont" and f.commune == "Bobigny"


@given(st.dictionaries(st.sampled_from(["q", "statut", "theme", "fonction", "commune", "departement", "page"]),
                       st.text(max_size=300)))
def test_parse_filters_never_raises(args):
    f = directory.parse_filters(args)
    assert f.page >= 1 and len(f.q) <= directory.MAX_QUERY_LENGTH


def test_fold_matches_the_sql_of_both_dialects_in_shape():
    assert directory.fold("ÉLÉONORE Lœuvre-Ça") == "eleonore loeuvre-ca"
    pg = str(directory.folded(directory.Subscriber.name).compile(dialect=postgresql.dialect()))
    assert pg.startswith("lower(translate(") and "œ" in pg
    lite = str(directory.folded(directory.Subscriber.name).compile(dialect=sqlite.dialect()))
    assert lite == "parentalites_fold(subscribers.name)"


def test_like_wildcards_in_a_search_are_escaped():
    assert directory._like_escape("50%_\\") == "50\\%\\_\\\\"


def test_page_window():
    page = directory.Page(subscribers=[], total=1000, counts={}, page=10, pages=20)
    assert page.window() == [1, None, 8, 9, 10, 11, 12, None, 20]
    assert directory.Page(subscribers=[], total=0, counts={}, page=1, pages=1).window() == [1]
    assert directory.Page(subscribers=[], total=0, counts={}, page=2, pages=4).window() == [1, 2, 3, 4]


@pytest.mark.parametrize("value,expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+33 1 23", "'+33 1 23"), ("-2+3", "'-2+3"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("Zoé", "Zoé"), ("", ""), (None, ""),
    ("a=b", "a=b"),
])
def test_defuse(value, expected):
    assert directory.defuse(value) == expected


def _row(**values):
    base = dict(email="zoe@example.org", name="Zoé", structure_name="Centre social", status=SubscriberStatus.active,
                topics=["clas", "sante"], role="referent_clas", commune="Bobigny", departement="93",
                legal_basis=LegalBasis.consent, confirmed_at=datetime(2026, 3, 1, 9, 30, tzinfo=UTC),
                consent_at=None, source="formulaire", created_at=datetime(2026, 2, 28, 8, 0, tzinfo=UTC))
    base.update(values)
    return SimpleNamespace(**base)


def test_csv_has_a_bom_semicolons_an_email_column_and_defused_formulas():
    rows = [_row(), _row(email="x@example.org", name="=1+1", structure_name="@evil", legal_basis=None,
                         confirmed_at=None, status=SubscriberStatus.pending, topics=[], role=None)]
    text = "".join(directory.csv_chunks(rows, chunk_rows=1))
    assert text.startswith("\ufeffemail;nom;structure;statut;")
    parsed = list(csv.DictReader(io.StringIO(text[1:]), delimiter=";"))
    assert len(parsed) == 2
    assert parsed[0] == {"email": "zoe@example.org", "nom": "Zoé", "structure": "Centre social", "statut": "actif",
                         "thèmes": "Accompagnement à la scolarité (CLAS)|Santé", "rôle": "Référent·e CLAS",
                         "commune": "Bobigny", "département": "93", "base légale": "consentement",
                         "date du consentement": "2026-03-01 09:30:00", "source": "formulaire",
                         "inscrit le": "2026-02-28 08:00:00"}
    assert parsed[1]["nom"] == "'=1+1" and parsed[1]["structure"] == "'@evil"
    assert parsed[1]["statut"] == "en attente" and parsed[1]["base légale"] == "" and parsed[1]["thèmes"] == ""


def test_csv_of_nobody_is_the_header():
    assert "".join(directory.csv_chunks([])) == "\ufeff" + ";".join(directory.HEADER) + "\r\n"


@pytest.fixture
def sqlite_db():
    """The list's queries on SQLite (the demo's database), in memory."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from parentalites.models import configure, metadata
    configure()
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with Session(engine) as session:
        yield session


def test_search_filters_counts_and_export_on_sqlite(sqlite_db):
    from subscribers.models import Subscriber
    sqlite_db.add_all([
        Subscriber(email="zoe@example.org", name="ZOÉ Lœuvre", structure_name="École Jules-Ferry", topics=["clas"],
                   role="elu", commune="Saint-Étienne", departement="42", status=SubscriberStatus.active),
        Subscriber(email="paul@example.org", name="Paul Martin", structure_name="100% parents", topics=[],
                   commune="Lyon", departement="69", status=SubscriberStatus.pending),
        Subscriber(email="ines@example.org", name="Inès Çelik", topics=["sante"], commune="Saint-Étienne",
                   departement="42", status=SubscriberStatus.suppressed),
    ])
    sqlite_db.commit()

    def found(**args):
        page = directory.search(sqlite_db, directory.parse_filters(args))
        return sorted(s.email for s in page.subscribers), page

    assert found(q="zoe loeuvre ecole")[0] == ["zoe@example.org"]
    assert found(q="INES celik")[0] == ["ines@example.org"]
    assert found(q="100%")[0] == ["paul@example.org"] and found(q="%")[0] == ["paul@example.org"]
    assert found(q="_")[0] == []
    assert found(theme="clas")[0] == ["paul@example.org", "zoe@example.org"]  # no topic = every topic
    assert found(commune="saint-etienne")[0] == ["ines@example.org", "zoe@example.org"]
    emails, page = found(departement="42", statut="active")
    assert emails == ["zoe@example.org"] and page.total == 1
    assert page.counts == {SubscriberStatus.pending: 0, SubscriberStatus.active: 1,
                           SubscriberStatus.unsubscribed: 0, SubscriberStatus.suppressed: 1}
    rows = list(directory.export_rows(sqlite_db, directory.parse_filters({"commune": "SAINT-ÉTIENNE"})))
    text = "".join(directory.csv_chunks(rows))
    assert [r["email"] for r in csv.DictReader(io.StringIO(text[1:]), delimiter=";")] == [
        "zoe@example.org", "ines@example.org"]
