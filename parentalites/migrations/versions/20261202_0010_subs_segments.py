"""départements stored by their code: fiches action, structures and subscribers

"Seine-Saint-Denis", "seine-saint-denis" and "093" become "93" (core/departements.py, the INSEE
list), so that the directory's facets show one value per département. A text that names no
département is left as written (nothing is lost; the forms ask for a valid one when it is next
edited). No schema change.

SQLite: the FTS5 table of the directory is emptied when a fiche changed, so that the application
rebuilds it from the fiches at the next search (contributions/directory.py `_ensure_sqlite_index`).
PostgreSQL's expression indexes follow the rows by themselves.

Downgrade: nothing to undo in the schema; the former spellings are not kept, and the codes are
valid values for the former code as well.

Revision ID: 0010_subs_segments
Revises: 0009_harden_mail
Create Date: 2026-12-02 03:00:00
"""
import sqlalchemy as sa
from alembic import op

from core import departements

revision = '0010_subs_segments'
down_revision = '0009_harden_mail'
branch_labels = None
depends_on = None

COLUMNS = (("fiches_action", "departement"), ("structures", "departement"), ("subscribers", "departement"))


def upgrade() -> None:
    bind = op.get_bind()
    fiches_changed = 0
    for table, column in COLUMNS:
        values = bind.execute(sa.text(f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL")).scalars()
        for value in list(values):
            code = departements.normalize(value)
            if code is not None and code != value:
                result = bind.execute(sa.text(f"UPDATE {table} SET {column} = :code WHERE {column} = :value"),
                                      {"code": code, "value": value})
                if table == "fiches_action":
                    fiches_changed += result.rowcount or 0
    if bind.dialect.name == "sqlite" and fiches_changed:
        exists = bind.execute(sa.text("SELECT 1 FROM sqlite_master WHERE name = 'fiche_search'")).first()
        if exists:
            bind.execute(sa.text("DELETE FROM fiche_search"))


def downgrade() -> None:
    pass
