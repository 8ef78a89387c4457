"""Import every model module, so that the mappers and Alembic see the whole schema."""
from contributions import models as contributions_models  # noqa: F401
from events import models as events_models  # noqa: F401
from newsletter import models as newsletter_models  # noqa: F401
from subscribers import models as subscribers_models  # noqa: F401

from newsletter.db import Base

metadata = Base.metadata
