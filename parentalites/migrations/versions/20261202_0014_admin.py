"""mailing: the editors' texts of transactional e-mails

Revision ID: 0014_admin
Revises: 0014_content
Create Date: 2026-12-02 06:00:00
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = '0014_admin'
down_revision = '0014_content'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'email_template_overrides',
        sa.Column('name', sa.String(length=60), nullable=False),
        sa.Column('subject', sa.Text(), nullable=False),
        sa.Column('body_text', sa.Text(), nullable=False),
        sa.Column('updated_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('updated_by', sa.String(length=254), nullable=True),
        sa.PrimaryKeyConstraint('name', name=op.f('pk_email_template_overrides')),
    )


def downgrade() -> None:
    op.drop_table('email_template_overrides')
