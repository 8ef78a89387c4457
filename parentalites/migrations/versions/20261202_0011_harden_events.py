"""events: a cap on party size per event, and registrations confirmed by their address (issue 13 #8)

Registrations made before keep their status; the new status « unconfirmed » needs no change of
schema (statuses are stored as strings).

Revision ID: 0011_harden_events
Revises: 0010_subs_segments
Create Date: 2026-12-02 03:00:00
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = '0011_harden_events'
down_revision = "0010_subs_segments"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('events') as batch_op:
        batch_op.add_column(sa.Column('max_party_size', sa.Integer(), nullable=True))
    with op.batch_alter_table('registrations') as batch_op:
        batch_op.add_column(sa.Column('address_confirmed_at', core.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('registrations') as batch_op:
        batch_op.drop_column('address_confirmed_at')
    with op.batch_alter_table('events') as batch_op:
        batch_op.drop_column('max_party_size')
