"""archive: the letters' articles for the archive search, and each letter's PDF

Revision ID: 0014_archive
Revises: 0014_ops
Create Date: 2026-12-02 05:30:00

`letter_articles`: one row per article of a sent letter, read back from its frozen web version.
PostgreSQL searches it through a GIN expression index over the accent-folded French document (the
expression of contributions/fulltext.py, as PostgreSQL prints it back); SQLite through an FTS5
table `letter_search` (rowid = article id) that the application fills
(newsletter/archive_search.py). Letters sent before this revision are indexed on the first search.
`letter_pdfs`: the PDF of each letter, made when it is sent.
"""
import sqlalchemy as sa
from alembic import op

revision = '0014_archive'
down_revision = '0014_ops'
branch_labels = None
depends_on = None

ARTICLE_DOCUMENT = (
    "to_tsvector('french'::regconfig, translate(replace(replace(replace(replace((COALESCE(title, ''::character varying)::text || ' '::text) || COALESCE(body, ''::text), 'œ'::text, 'oe'::text), 'Œ'::text, 'OE'::text), 'æ'::text, 'ae'::text), 'Æ'::text, 'AE'::text), 'ÀÂÄÁÃÅàâäáãåÇçÉÈÊËéèêëÎÏÍÌîïíìÔÖÓÒÕôöóòõÙÛÜÚùûüúŸÝÿýÑñ'::text, 'AAAAAAaaaaaaCcEEEEeeeeIIIIiiiiOOOOOoooooUUUUuuuuYYyyNn'::text))")


def upgrade() -> None:
    op.create_table(
        'letter_articles',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('anchor', sa.String(length=80), nullable=True),
        sa.Column('rubrique', sa.String(length=120), nullable=False),
        sa.Column('title', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('issue_id', 'position'),
    )
    op.create_index(op.f('ix_letter_articles_issue_id'), 'letter_articles', ['issue_id'], unique=False)
    op.create_table(
        'letter_pdfs',
        sa.Column('issue_id', sa.Integer(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('made_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('seconds', sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('issue_id'),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(f"CREATE INDEX ix_letter_articles_search_fr ON letter_articles USING gin (({ARTICLE_DOCUMENT}))")
    elif dialect == "sqlite":
        op.execute("CREATE VIRTUAL TABLE IF NOT EXISTS letter_search USING fts5("
                   "doc, tokenize = 'unicode61 remove_diacritics 2')")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_letter_articles_search_fr")
    elif dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS letter_search")
    op.drop_table('letter_pdfs')
    op.drop_index(op.f('ix_letter_articles_issue_id'), table_name='letter_articles')
    op.drop_table('letter_articles')
