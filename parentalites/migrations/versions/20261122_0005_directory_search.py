"""directory of actions: French full-text search (PostgreSQL GIN expression indexes, SQLite FTS5)

Revision ID: 0005_directory_search
Revises: 0004_network
Create Date: 2026-11-22 02:30:00

PostgreSQL: two expression GIN indexes over `to_tsvector('french', …)` of the accent-folded text of
a fiche action, one on its contribution (title, body), one on the fiche's own fields. The
expressions are exactly those of contributions/fulltext.py (`pg_contribution_document()`,
`pg_fiche_document()`, written as PostgreSQL prints them back, so that the models' declaration of
these indexes matches under `alembic check`): the planner uses an index only for an identical
expression, and tests/test_directory.py checks that it does.

SQLite: an FTS5 table `fiche_search` (rowid = contribution id) holding the analysed text; the
application fills it (contributions/directory.py rebuilds it when it does not count the fiches).
"""
from alembic import op

revision = '0005_directory_search'
down_revision = '0004_network'
branch_labels = None
depends_on = None

CONTRIBUTION_DOCUMENT = (
    "to_tsvector('french'::regconfig, translate(replace(replace(replace(replace((COALESCE(title, ''::character varying)::text || ' '::text) || COALESCE(body_md, ''::text), 'œ'::text, 'oe'::text), 'Œ'::text, 'OE'::text), 'æ'::text, 'ae'::text), 'Æ'::text, 'AE'::text), 'ÀÂÄÁÃÅàâäáãåÇçÉÈÊËéèêëÎÏÍÌîïíìÔÖÓÒÕôöóòõÙÛÜÚùûüúŸÝÿýÑñ'::text, 'AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuYYyyNn'::text))")
FICHE_DOCUMENT = (
    "to_tsvector('french'::regconfig, translate(replace(replace(replace(replace((((((((((((((((((((((((((((((((((COALESCE(structure_label, ''::character varying)::text || ' '::text) || COALESCE(departement, ''::character varying)::text) || ' '::text) || COALESCE(dimension, ''::character varying)::text) || ' '::text) || COALESCE(keywords::jsonb::text, ''::text)) || ' '::text) || COALESCE(summary, ''::text)) || ' '::text) || COALESCE(initiative::jsonb::text, ''::text)) || ' '::text) || COALESCE(territory, ''::character varying)::text) || ' '::text) || COALESCE(description, ''::text)) || ' '::text) || COALESCE(public::jsonb::text, ''::text)) || ' '::text) || COALESCE(partners::jsonb::text, ''::text)) || ' '::text) || COALESCE(partners_description, ''::text)) || ' '::text) || COALESCE(financial_resources, ''::text)) || ' '::text) || COALESCE(people_mobilised, ''::text)) || ' '::text) || COALESCE(result_territory, ''::text)) || ' '::text) || COALESCE(result_structure, ''::text)) || ' '::text) || COALESCE(result_inhabitants, ''::text)) || ' '::text) || COALESCE(limits, ''::text)) || ' '::text) || COALESCE(perspectives, ''::text), 'œ'::text, 'oe'::text), 'Œ'::text, 'OE'::text), 'æ'::text, 'ae'::text), 'Æ'::text, 'AE'::text), 'ÀÂÄÁÃÅàâäáãåÇçÉÈÊËéèêëÎÏÍÌîïíìÔÖÓÒÕôöóòõÙÛÜÚùûüúŸÝÿýÑñ'::text, 'AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuYYyyNn'::text))")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE INDEX ix_contributions_search_fr ON contributions USING gin "
                   f"(({CONTRIBUTION_DOCUMENT})) WHERE kind = 'fiche_action'")
        op.execute(f"CREATE INDEX ix_fiches_action_search_fr ON fiches_action USING gin (({FICHE_DOCUMENT}))")
    elif dialect == "sqlite":
        op.execute("CREATE VIRTUAL TABLE IF NOT EXISTS fiche_search USING fts5("
                   "doc, tokenize = 'unicode61 remove_diacritics 2')")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_fiches_action_search_fr")
        op.execute("DROP INDEX IF EXISTS ix_contributions_search_fr")
    elif dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS fiche_search")
