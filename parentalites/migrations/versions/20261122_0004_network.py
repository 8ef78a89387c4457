"""partners, fiches action, files, feeds, event messages, segments, editorial calendar

Revision ID: 0004_network
Revises: 0003_events
Create Date: 2026-11-22 01:48:08
"""
import sqlalchemy as sa
from alembic import op

import core.db

revision = '0004_network'
down_revision = '0003_events'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('contribution_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contribution_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=10), nullable=False),
    sa.Column('filename', sa.String(length=255), nullable=False),
    sa.Column('content_type', sa.String(length=60), nullable=False),
    sa.Column('alt_text', sa.String(length=500), nullable=True),
    sa.Column('title', sa.String(length=300), nullable=True),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('width', sa.Integer(), nullable=True),
    sa.Column('height', sa.Integer(), nullable=True),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('email_data', sa.LargeBinary(), nullable=True),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'], name=op.f('fk_contribution_files_contribution_id_contributions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contribution_files'))
    )
    op.create_table('fiches_action',
    sa.Column('contribution_id', sa.Integer(), nullable=False),
    sa.Column('import_key', sa.String(length=64), nullable=True),
    sa.Column('structure_label', sa.String(length=300), nullable=True),
    sa.Column('departement', sa.String(length=80), nullable=True),
    sa.Column('year', sa.Integer(), nullable=True),
    sa.Column('action_status', sa.String(length=20), nullable=True),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('dimension', sa.String(length=120), nullable=True),
    sa.Column('keywords', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('initiative', sa.JSON(), nullable=False),
    sa.Column('territory', sa.String(length=200), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('public', sa.JSON(), nullable=False),
    sa.Column('partners', sa.JSON(), nullable=False),
    sa.Column('partners_description', sa.Text(), nullable=True),
    sa.Column('financial_resources', sa.Text(), nullable=True),
    sa.Column('people_mobilised', sa.Text(), nullable=True),
    sa.Column('result_territory', sa.Text(), nullable=True),
    sa.Column('result_structure', sa.Text(), nullable=True),
    sa.Column('result_inhabitants', sa.Text(), nullable=True),
    sa.Column('limits', sa.Text(), nullable=True),
    sa.Column('perspectives', sa.Text(), nullable=True),
    sa.Column('file_names', sa.JSON(), nullable=False),
    sa.Column('contact', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['contribution_id'], ['contributions.id'], name=op.f('fk_fiches_action_contribution_id_contributions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('contribution_id', name=op.f('pk_fiches_action')),
    sa.UniqueConstraint('import_key', name=op.f('uq_fiches_action_import_key'))
    )
    with op.batch_alter_table('fiches_action', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fiches_action_departement'), ['departement'], unique=False)

    op.create_table('planned_issues',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('call_sent_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('editors_reminded_at', core.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('issue_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['issue_id'], ['issues.id'], name=op.f('fk_planned_issues_issue_id_issues'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_planned_issues')),
    sa.UniqueConstraint('issue_date', name=op.f('uq_planned_issues_issue_date'))
    )
    op.create_table('registration_messages',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('outbound_email_id', sa.Integer(), nullable=True),
    sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['outbound_email_id'], ['outbound_emails.id'], name=op.f('fk_registration_messages_outbound_email_id_outbound_emails'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'], name=op.f('fk_registration_messages_registration_id_registrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_registration_messages')),
    sa.UniqueConstraint('registration_id', 'kind', name='uq_registration_message')
    )
    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('contact', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('deadline', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('resource_kind', sa.Enum('publication', 'guide', 'lien', 'fichier', name='resource_kind', native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column('feed_entry_id', sa.String(length=1000), nullable=True))
        batch_op.create_index('uq_contributions_feed_entry', ['structure_id', 'feed_entry_id'], unique=True, postgresql_where=sa.text('feed_entry_id IS NOT NULL'), sqlite_where=sa.text('feed_entry_id IS NOT NULL'))

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('audience', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('reminder_days', sa.String(length=40), server_default='7,1', nullable=False))
        batch_op.add_column(sa.Column('survey_url', sa.String(length=1000), nullable=True))
        batch_op.add_column(sa.Column('thanks_sent_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retour_contribution_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_events_retour_contribution_id_contributions'), 'contributions', ['retour_contribution_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), server_default='letter', nullable=False))
        batch_op.add_column(sa.Column('event_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('segment', sa.JSON(), nullable=True))
        batch_op.alter_column('numero',
               existing_type=sa.INTEGER(),
               nullable=True)
        batch_op.create_foreign_key(batch_op.f('fk_issues_event_id_events'), 'events', ['event_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('attended', sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column('attended_marked_at', core.db.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('structures', schema=None) as batch_op:
        batch_op.add_column(sa.Column('feed_etag', sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column('feed_modified', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('feed_checked_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('feed_ok_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('feed_failures', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('feed_warning', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('feed_error', sa.Text(), nullable=True))

    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('topics', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('role', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('commune', sa.String(length=120), nullable=True))

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('invited_at', core.db.UTCDateTime(timezone=True), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('invited_at')

    with op.batch_alter_table('subscribers', schema=None) as batch_op:
        batch_op.drop_column('commune')
        batch_op.drop_column('role')
        batch_op.drop_column('topics')

    with op.batch_alter_table('structures', schema=None) as batch_op:
        batch_op.drop_column('feed_error')
        batch_op.drop_column('feed_warning')
        batch_op.drop_column('feed_failures')
        batch_op.drop_column('feed_ok_at')
        batch_op.drop_column('feed_checked_at')
        batch_op.drop_column('feed_modified')
        batch_op.drop_column('feed_etag')

    with op.batch_alter_table('registrations', schema=None) as batch_op:
        batch_op.drop_column('attended_marked_at')
        batch_op.drop_column('attended')

    with op.batch_alter_table('issues', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_issues_event_id_events'), type_='foreignkey')
        batch_op.alter_column('numero',
               existing_type=sa.INTEGER(),
               nullable=False)
        batch_op.drop_column('segment')
        batch_op.drop_column('event_id')
        batch_op.drop_column('kind')

    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_events_retour_contribution_id_contributions'), type_='foreignkey')
        batch_op.drop_column('retour_contribution_id')
        batch_op.drop_column('thanks_sent_at')
        batch_op.drop_column('survey_url')
        batch_op.drop_column('reminder_days')
        batch_op.drop_column('audience')

    with op.batch_alter_table('contributions', schema=None) as batch_op:
        batch_op.drop_index('uq_contributions_feed_entry', postgresql_where=sa.text('feed_entry_id IS NOT NULL'), sqlite_where=sa.text('feed_entry_id IS NOT NULL'))
        batch_op.drop_column('feed_entry_id')
        batch_op.drop_column('resource_kind')
        batch_op.drop_column('deadline')
        batch_op.drop_column('contact')
        batch_op.drop_column('audience')

    op.drop_table('registration_messages')
    op.drop_table('planned_issues')
    with op.batch_alter_table('fiches_action', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fiches_action_departement'))

    op.drop_table('fiches_action')
    op.drop_table('contribution_files')
