"""bounces: the bounce log, and why and when a subscriber was suppressed

Revision ID: 0002_bounces
Revises: 6848489d8982
Create Date: 2026-11-22 00:52:27
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_bounces"
down_revision = "6848489d8982"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "bounces",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=True),
        sa.Column("delivery_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.Enum("hard", "soft", "delayed", "autoreply", "complaint", "unknown",
                                  name="bounce_kind", native_enum=False, length=32), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("status_code", sa.String(length=16), nullable=True),
        sa.Column("diagnostic", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("message_hash", sa.String(length=64), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"],
                                name=op.f("fk_bounces_delivery_id_deliveries"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["subscribers.id"],
                                name=op.f("fk_bounces_subscriber_id_subscribers"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_bounces")),
    )
    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bounces_message_hash"), ["message_hash"], unique=False)
        batch_op.create_index("ix_bounces_subscriber_received", ["subscriber_id", "received_at"], unique=False)

    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("suppressed_reason", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("suppressed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("subscribers", schema=None) as batch_op:
        batch_op.drop_column("suppressed_at")
        batch_op.drop_column("suppressed_reason")

    with op.batch_alter_table("bounces", schema=None) as batch_op:
        batch_op.drop_index("ix_bounces_subscriber_received")
        batch_op.drop_index(batch_op.f("ix_bounces_message_hash"))

    op.drop_table("bounces")
