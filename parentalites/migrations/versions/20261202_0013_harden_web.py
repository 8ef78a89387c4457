"""accounts: a session version per user (logout and password change end every session)

Revision ID: 0013_harden_web
Revises: 0012_subs_admin
Create Date: 2026-12-02 03:20:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0013_harden_web'
down_revision = "0012_subs_admin"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
