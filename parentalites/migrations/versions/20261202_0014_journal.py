"""accounts: the journal of editors' and admins' actions

Revision ID: 0014_journal
Revises: 0013_harden_web
Create Date: 2026-12-02 05:40:00
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = '0014_journal'
down_revision = "0013_harden_web"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'journal_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_email', sa.String(length=254), nullable=True),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('target', sa.String(length=80), nullable=True),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('details', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_journal_entries_actor_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_journal_entries')),
    )
    op.create_index('ix_journal_entries_at', 'journal_entries', ['at'])
    op.create_index('ix_journal_entries_action', 'journal_entries', ['action'])
    op.create_index('ix_journal_entries_target', 'journal_entries', ['target'])
    op.create_index(op.f('ix_journal_entries_actor_id'), 'journal_entries', ['actor_id'])


def downgrade() -> None:
    op.drop_table('journal_entries')
