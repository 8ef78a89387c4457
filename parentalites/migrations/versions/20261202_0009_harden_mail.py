"""harden mail: the rule that classified a bounce and why it was ignored; bounce messages being read
(attempts, quarantine); bounce mailbox problems told to the editors

Revision ID: 0009_harden_mail
Revises: 0008_subs_rgpd
Create Date: 2026-12-02 03:00:00
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = "0009_harden_mail"
down_revision = "0008_subs_rgpd"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("ignored_reason", sa.String(length=200), nullable=True))
    op.create_table("bounce_messages",
    sa.Column("id", sa.Integer(), nullable=False),
    sa.Column("message_hash", sa.String(length=64), nullable=False),
    sa.Column("source", sa.String(length=32), nullable=False),
    sa.Column("sender", sa.String(length=254), nullable=True),
    sa.Column("subject", sa.String(length=300), nullable=True),
    sa.Column("size", sa.Integer(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("first_seen_at", core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column("quarantined_at", core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint("id", name=op.f("pk_bounce_messages")),
    sa.UniqueConstraint("message_hash", name=op.f("uq_bounce_messages_message_hash"))
    )
    op.create_table("bounce_mailbox_problems",
    sa.Column("source", sa.String(length=32), nullable=False),
    sa.Column("problem", sa.String(length=32), nullable=False),
    sa.Column("detail", sa.Text(), nullable=False),
    sa.Column("since", core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint("source", name=op.f("pk_bounce_mailbox_problems"))
    )


def downgrade() -> None:
    op.drop_table("bounce_mailbox_problems")
    op.drop_table("bounce_messages")
    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.drop_column("ignored_reason")
        batch_op.drop_column("rule")
