"""Every model module, so that the mappers, Alembic and `create_all` see the whole schema."""
from sqlalchemy.orm import configure_mappers

from accounts import models as accounts_models
from contributions import models as contributions_models
from core.db import Base
from events import models as events_models
from mailing import models as mailing_models
from newsletter import models as newsletter_models
from parentalites.webhooks import models as webhooks_models
from subscribers import models as subscribers_models

MODEL_MODULES = (accounts_models, mailing_models, contributions_models, subscribers_models,
                 newsletter_models, events_models, webhooks_models)
metadata = Base.metadata

# Indexes a migration creates only where the database allows it (migration 0008: pg_trgm): not
# declared in the models, left out when Alembic compares the schema with them.
OPTIONAL_INDEXES = frozenset({"ix_subscribers_search_trgm"})


def include_name(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's `include_name` hook: everything but the optional indexes."""
    return not (type_ == "index" and name in OPTIONAL_INDEXES)


def configure() -> None:
    """Resolve every mapper now (relationships named by string across packages), so that a broken
    model fails at start, not at the first query that touches it."""
    configure_mappers()
