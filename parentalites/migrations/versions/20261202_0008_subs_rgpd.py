"""registrations: the version of the consent text accepted

An event registration's proof of consent names the version of the text (consent_versions), as the
subscribers' proofs do.

Revision ID: 0008_subs_rgpd
Revises: 0007_subscribers_rgpd
Create Date: 2026-12-02 03:05:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0008_subs_rgpd'
down_revision = '0007_subscribers_rgpd'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('consent_version_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_registrations_consent_version_id_consent_versions'),
                                    'consent_versions', ['consent_version_id'], ['id'])


def downgrade() -> None:
    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_registrations_consent_version_id_consent_versions'),
                                 type_='foreignkey')
        batch_op.drop_column('consent_version_id')
