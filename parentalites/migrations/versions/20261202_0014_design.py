"""design: site settings set in the back office (over the environment) and the letter's blocks

Revision ID: 0014_design
Revises: 0014_archive
Create Date: 2026-12-02 05:30:00
"""
import sqlalchemy as sa
from alembic import op

from core.db import UTCDateTime

revision = "0014_design"
down_revision = "0014_archive"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "site_settings",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_site_settings")),
    )
    op.create_table(
        "issue_blocks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("issue_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Enum("text", "banner", "button", "featured", name="block_kind",
                                  native_enum=False, create_constraint=False, length=32), nullable=False),
        sa.Column("placement", sa.String(length=40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("body_md", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=80), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("contribution_id", sa.Integer(), nullable=True),
        sa.Column("alt_text", sa.String(length=500), nullable=False),
        sa.Column("image_data", sa.LargeBinary(), nullable=True),
        sa.Column("image_type", sa.String(length=40), nullable=True),
        sa.Column("image_width", sa.Integer(), nullable=True),
        sa.Column("image_height", sa.Integer(), nullable=True),
        sa.Column("image_version", sa.String(length=16), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contribution_id"], ["contributions.id"],
                                name=op.f("fk_issue_blocks_contribution_id_contributions"), ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["issue_id"], ["issues.id"],
                                name=op.f("fk_issue_blocks_issue_id_issues"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issue_blocks")),
    )
    op.create_index(op.f("ix_issue_blocks_issue_id"), "issue_blocks", ["issue_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_issue_blocks_issue_id"), table_name="issue_blocks")
    op.drop_table("issue_blocks")
    op.drop_table("site_settings")
