"""Data migrations, run on rows written before them, on SQLite and PostgreSQL."""
from __future__ import annotations

import importlib.util

import pytest
from alembic import command
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from contributions import directory
from contributions.models import Contribution, ContributionKind, ContributionStatus, FicheAction, Structure
from contributions.models import StructureKind as K
from core.db import make_engine
from parentalites.migrate import alembic_config
from subscribers.models import Subscriber, SubscriberStatus
from tests.conftest import ROOT

VERSIONS = ROOT / "parentalites" / "migrations" / "versions"


def _write_old_spellings(db: Session) -> None:
    # In SQL naming the columns of the time: the models' later columns do not exist yet at 0009.
    structures = {}
    for name, kind, departement in [("Les Tilleuls", K.centre_social, "Seine-Saint-Denis"),
                                    ("Maison des familles", K.autre, "isère"),
                                    ("Réseau régional", K.autre, "Île-de-France")]:
        structures[name] = db.execute(text(
            "INSERT INTO structures (name, kind, commune, departement, feed_failures, created_at) "
            "VALUES (:name, :kind, '', :departement, 0, CURRENT_TIMESTAMP) RETURNING id"),
            {"name": name, "kind": kind.value, "departement": departement}).scalar_one()
    tilleuls, isere, region = structures.values()
    for title, structure_id, departement in [("Café", tilleuls, "93"), ("Goûter", tilleuls, "seine-saint-denis"),
                                             ("Groupe", isere, "038"), ("Jardin", region, "Île-de-France"),
                                             ("Sortie", tilleuls, None)]:
        contribution_id = db.execute(text(
            "INSERT INTO contributions (structure_id, kind, status, title, body_md, source, created_at, updated_at) "
            "VALUES (:structure_id, :kind, :status, :title, '', 'import', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP) "
            "RETURNING id"), {"structure_id": structure_id, "kind": ContributionKind.fiche_action.value,
                              "status": ContributionStatus.accepted.value, "title": title}).scalar_one()
        db.execute(text(
            "INSERT INTO fiches_action (contribution_id, departement, summary, keywords, initiative, public, partners, "
            "file_names) VALUES (:id, :departement, :summary, '[]', '[]', '[]', '[]', '[]')"),
            {"id": contribution_id, "departement": departement, "summary": f"{title} du réseau."})
    db.add(Subscriber(email="lea@example.org", name="Léa", departement="093", status=SubscriberStatus.active))
    db.commit()


def _check(db: Session) -> None:
    fiches = dict(db.execute(select(Contribution.title, FicheAction.departement).join(FicheAction)).all())
    assert fiches == {"Café": "93", "Goûter": "93", "Groupe": "38", "Jardin": "Île-de-France", "Sortie": None}
    structures = dict(db.execute(select(Structure.name, Structure.departement)).all())
    assert structures == {"Les Tilleuls": "93", "Maison des familles": "38", "Réseau régional": "Île-de-France"}
    assert db.scalar(select(Subscriber.departement)) == "93"
    facet = next(f for f in directory.search(db, "").facets if f.name == "departement")
    assert [(v.value, v.count) for v in facet.values] == [("93", 3), ("Île-de-France", 1), ("38", 1)]
    assert {c.title for c in directory.search(db, "Seine-Saint-Denis", per_page=50).results} == {
        "Café", "Goûter", "Sortie"}


def _migration(name: str):
    [path] = VERSIONS.glob(f"*_{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_departements_are_normalised_on_sqlite_and_the_search_index_rebuilt(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'old.sqlite'}")
    with engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0009_harden_mail")
        connection.commit()
    with Session(engine) as db:
        _write_old_spellings(db)
        directory.rebuild_sqlite_index(db.connection())
        db.commit()
        assert db.execute(text("SELECT count(*) FROM fiche_search")).scalar() == 5
    with engine.connect() as connection:
        config = alembic_config()
        config.attributes["connection"] = connection
        command.upgrade(config, "0010_subs_segments")
        connection.commit()
        # Emptied: the directory rebuilds it from the fiches as they are now.
        assert connection.execute(text("SELECT count(*) FROM fiche_search")).scalar() == 0
        command.upgrade(config, "head")  # the models below read today's columns
        connection.commit()
    with Session(engine) as db:
        _check(db)
        assert db.execute(text("SELECT count(*) FROM fiche_search")).scalar() == 5
    engine.dispose()


def test_departements_are_normalised_on_postgresql(db):
    _write_old_spellings(db)
    connection = db.connection()
    with Operations.context(MigrationContext.configure(connection)):
        _migration("0010_subs_segments").upgrade()
    db.commit()
    db.expire_all()
    _check(db)


@pytest.mark.parametrize("value", ["Paris 75", "", "Alsace"])
def test_a_text_that_names_no_departement_is_left_as_written(db, value):
    structure = Structure(name="S", kind=K.autre, departement=value)
    db.add(structure)
    db.commit()
    with Operations.context(MigrationContext.configure(db.connection())):
        _migration("0010_subs_segments").upgrade()
    db.commit()
    db.refresh(structure)
    assert structure.departement == value
