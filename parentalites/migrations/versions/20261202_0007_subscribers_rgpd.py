"""subscribers: legal basis, consent versions, history, RGPD requests, imports

Deliveries and bounces of an erased subscriber stay, anonymised (subscriber_id SET NULL), for the
statistics.

Revision ID: 0007_subscribers_rgpd
Revises: 0006_outbox_attachments
Create Date: 2026-12-02 02:35:06.328160
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = '0007_subscribers_rgpd'
down_revision = '0006_outbox_attachments'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('consent_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=40), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_consent_versions')),
    sa.UniqueConstraint('purpose', 'text_hash', name=op.f('uq_consent_versions_purpose'))
    )
    op.create_table('subscriber_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.String(length=64), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('actor', sa.String(length=254), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('counts', sa.JSON(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriber_imports')),
    sa.UniqueConstraint('token', name=op.f('uq_subscriber_imports_token'))
    )
    op.create_table('suppressed_hashes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('address_hash', sa.String(length=64), nullable=False),
    sa.Column('reason', sa.String(length=40), nullable=False),
    sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppressed_hashes')),
    sa.UniqueConstraint('address_hash', name=op.f('uq_suppressed_hashes_address_hash'))
    )
    op.create_table('privacy_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('subject_hash', sa.String(length=64), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=True),
    sa.Column('actor', sa.String(length=254), nullable=True),
    sa.Column('channel', sa.String(length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_privacy_requests_subscriber_id_subscribers'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_privacy_requests'))
    )
    with op.batch_alter_table('privacy_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_privacy_requests_subject_hash'), ['subject_hash'], unique=False)

    op.create_table('subscriber_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('subscriber_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.Column('actor', sa.String(length=254), nullable=True),
    sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['subscriber_id'], ['subscribers.id'], name=op.f('fk_subscriber_events_subscriber_id_subscribers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_subscriber_events'))
    )
    with op.batch_alter_table('subscriber_events', schema=None) as batch_op:
        batch_op.create_index('ix_subscriber_events_subscriber_at', ['subscriber_id', 'at'], unique=False)

    with op.batch_alter_table('bounces', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bounces_subscriber_id_subscribers'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_bounces_subscriber_id_subscribers'), 'subscribers', ['subscriber_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('version_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('source', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('details', sa.JSON(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_consent_records_version_id_consent_versions'), 'consent_versions', ['version_id'], ['id'])

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.alter_column('subscriber_id',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.drop_constraint(batch_op.f('fk_deliveries_subscriber_id_subscribers'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_deliveries_subscriber_id_subscribers'), 'subscribers', ['subscriber_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('departement', sa.String(length=3), nullable=True))
        batch_op.add_column(sa.Column('legal_basis', sa.Enum('consent', 'legitimate_interest', name='legal_basis', native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column('source', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('last_activity_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('repermission_sent_at', core.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('repermission_sent_at')
        batch_op.drop_column('last_activity_at')
        batch_op.drop_column('source')
        batch_op.drop_column('legal_basis')
        batch_op.drop_column('departement')

    with op.batch_alter_table('deliveries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_deliveries_subscriber_id_subscribers'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_deliveries_subscriber_id_subscribers'), 'subscribers', ['subscriber_id'], ['id'], ondelete='CASCADE')
        batch_op.alter_column('subscriber_id',
               existing_type=sa.INTEGER(),
               nullable=False)

    with op.batch_alter_table('consent_records', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_consent_records_version_id_consent_versions'), type_='foreignkey')
        batch_op.drop_column('details')
        batch_op.drop_column('source')
        batch_op.drop_column('version_id')

    with op.batch_alter_table('bounces', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_bounces_subscriber_id_subscribers'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_bounces_subscriber_id_subscribers'), 'subscribers', ['subscriber_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('subscriber_events', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriber_events_subscriber_at')

    op.drop_table('subscriber_events')
    with op.batch_alter_table('privacy_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_privacy_requests_subject_hash'))

    op.drop_table('privacy_requests')
    op.drop_table('suppressed_hashes')
    op.drop_table('subscriber_imports')
    op.drop_table('consent_versions')
