"""outbox attachments: the ICS invitations of event e-mails get a column of their own

Revision ID: 0006_outbox_attachments
Revises: 0005_directory_search
Create Date: 2026-11-22 02:55:00
"""
import sqlalchemy as sa
from alembic import op

revision = "0006_outbox_attachments"
down_revision = "0005_directory_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attachments", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbound_emails", schema=None) as batch_op:
        batch_op.drop_column("attachments")
