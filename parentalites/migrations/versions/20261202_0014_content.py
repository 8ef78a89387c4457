"""contributions: editors' edits (version, opened, revisions), rubriques in the database; the
letter's items may be network events (the Agenda)

Revision ID: 0014_content
Revises: 0014_design
Create Date: 2026-12-02 05:30:00
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = '0014_content'
down_revision = "0014_design"
branch_labels = None
depends_on = None

RUBRIQUES = [
    ("actualites", "Actualités du réseau"),
    ("parentalite", "Parentalité"),
    ("clas", "Accompagnement à la scolarité (CLAS)"),
    ("retour_soiree", "Retour sur une soirée du Réaap"),
    ("agenda", "Agenda"),
    ("ressources", "Ressources et publications"),
    ("appels_a_projets", "Appels à projets"),
]
DEFAULTS = {"actualite": "actualites", "evenement": "agenda", "fiche_action": "parentalite",
            "ressource": "ressources", "appel_a_projets": "appels_a_projets"}


def upgrade() -> None:
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version', sa.Integer(), server_default='1', nullable=False))
        batch_op.add_column(sa.Column('opened_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('opened_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_contributions_opened_by_id_users'), 'users', ['opened_by_id'],
                                    ['id'], ondelete='SET NULL')

    op.create_table(
        'contribution_revisions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('contribution_id', sa.Integer(), nullable=False),
        sa.Column('editor_id', sa.Integer(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('before', sa.JSON(), nullable=False),
        sa.Column('after', sa.JSON(), nullable=False),
        sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'],
                                name=op.f('fk_contribution_revisions_contribution_id_contributions'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['editor_id'], ['users.id'], name=op.f('fk_contribution_revisions_editor_id_users'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_contribution_revisions')),
    )
    with op.batch_alter_table('contribution_revisions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contribution_revisions_contribution_id'), ['contribution_id'],
                              unique=False)

    rubriques = op.create_table(
        'rubriques',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('slug', sa.String(length=40), nullable=False),
        sa.Column('label', sa.String(length=120), nullable=False),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_rubriques')),
        sa.UniqueConstraint('slug', name=op.f('uq_rubriques_slug')),
    )
    defaults = op.create_table(
        'rubrique_defaults',
        sa.Column('kind', sa.String(length=32), nullable=False),
        sa.Column('rubrique_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['rubrique_id'], ['rubriques.id'], name=op.f('fk_rubrique_defaults_rubrique_id_rubriques'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('kind', name=op.f('pk_rubrique_defaults')),
    )
    now = core.db.utcnow()
    op.bulk_insert(rubriques, [{"id": n, "slug": slug, "label": label, "position": n, "created_at": now}
                               for n, (slug, label) in enumerate(RUBRIQUES, start=1)])
    ids = {slug: n for n, (slug, _) in enumerate(RUBRIQUES, start=1)}
    op.bulk_insert(defaults, [{"kind": kind, "rubrique_id": ids[slug]} for kind, slug in DEFAULTS.items()])
    if op.get_bind().dialect.name == "postgresql":  # ids given above: the sequence goes on after them
        op.execute("SELECT setval('rubriques_id_seq', (SELECT max(id) FROM rubriques))")

    with op.batch_alter_table('issue_items', schema=None) as batch_op:
        batch_op.alter_column('contribution_id', existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column('event_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_issue_items_event_id_events'), 'events', ['event_id'], ['id'],
                                    ondelete='CASCADE')
        batch_op.create_unique_constraint('uq_issue_items_issue_id_event_id', ['issue_id', 'event_id'])
        batch_op.create_check_constraint(op.f('ck_issue_items_one_source'), '(contribution_id IS NULL) != (event_id IS NULL)')


def downgrade() -> None:
    op.execute("DELETE FROM issue_items WHERE contribution_id IS NULL")
    with op.batch_alter_table('issue_items', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_issue_items_one_source'), type_='check')
        batch_op.drop_constraint('uq_issue_items_issue_id_event_id', type_='unique')
        batch_op.drop_constraint(batch_op.f('fk_issue_items_event_id_events'), type_='foreignkey')
        batch_op.drop_column('event_id')
        batch_op.alter_column('contribution_id', existing_type=sa.Integer(), nullable=False)
    op.drop_table('rubrique_defaults')
    op.drop_table('rubriques')
    with op.batch_alter_table('contribution_revisions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contribution_revisions_contribution_id'))
    op.drop_table('contribution_revisions')
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_contributions_opened_by_id_users'), type_='foreignkey')
        batch_op.drop_column('opened_by_id')
        batch_op.drop_column('version')
