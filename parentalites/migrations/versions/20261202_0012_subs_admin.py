"""subscribers: indexes for the editors' list (status, département, commune) and, on PostgreSQL with
pg_trgm, a trigram index for its search

The three B-tree indexes let the counts per status and the département / commune filters be answered
from the indexes (declared in subscribers/models.py).

The editors' list (`/redaction/abonnes/`) searches `LIKE '%word%'` in the accent-folded address, name
and structure (subscribers/directory.py `PG_SEARCH_DOCUMENT`, copied here as it was: the planner
uses the index only for an identical expression). Without an index PostgreSQL runs `translate` on
every row for each search (seconds at 100,000 subscribers); with a GIN trigram index it reads the
rows that hold the word's trigrams. Skipped when pg_trgm is not available or may not be created
(the search still works, by a full scan), and on SQLite.

Not declared in the models: an index that may or may not exist is not part of the schema
`alembic check` compares (see include_object in parentalites/migrations/env.py).

Revision ID: 0012_subs_admin
Revises: 0011_harden_events
Create Date: 2026-12-02 03:25:00
"""
from alembic import op
from sqlalchemy.exc import DBAPIError

revision = '0012_subs_admin'
down_revision = "0011_harden_events"
branch_labels = None
depends_on = None

SEARCH_DOCUMENT = (
    "lower(translate(replace(replace(replace(replace("
    "(email::text || ' ' || coalesce(name, '')::text || ' ' || coalesce(structure_name, '')::text), "
    "'œ', 'oe'), 'Œ', 'OE'), 'æ', 'ae'), 'Æ', 'AE'), "
    "'ÀÂÄÁÃÅàâäáãåÇçÉÈÊËéèêëÎÏÍÌîïíìÔÖÓÒÕôöóòõÙÛÜÚùûüúŸÝÿýÑñ', "
    "'AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuYYyyNn'))")


def upgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.create_index('ix_subscribers_status', ['status'], unique=False)
        batch_op.create_index('ix_subscribers_departement_status', ['departement', 'status'], unique=False)
        batch_op.create_index('ix_subscribers_commune_status', ['commune', 'status'], unique=False)
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    if not bind.exec_driver_sql("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'").scalar():
        return
    try:
        with bind.begin_nested():  # a refused CREATE EXTENSION (privileges) must not abort the migration
            bind.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except DBAPIError:
        return
    op.execute(f"CREATE INDEX IF NOT EXISTS ix_subscribers_search_trgm ON subscribers "
               f"USING gin (({SEARCH_DOCUMENT}) gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_subscribers_search_trgm")
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_index('ix_subscribers_commune_status')
        batch_op.drop_index('ix_subscribers_departement_status')
        batch_op.drop_index('ix_subscribers_status')
