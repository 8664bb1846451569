"""Import every model module so that Base.metadata knows every table (Alembic, tests)."""

from civicgrid.alerts import models as alerts_models
from civicgrid.apiclients import models as apiclients_models
from civicgrid.audit import models as audit_models
from civicgrid.disputes import models as disputes_models
from civicgrid.events import models as events_models
from civicgrid.files import models as files_models
from civicgrid.gazetteer import models as gazetteer_models
from civicgrid.geo import models as geo_models
from civicgrid.inbox import models as inbox_models
from civicgrid.matters import models as matters_models
from civicgrid.matters.figures import models as matter_figures_models
from civicgrid.matters.open311 import models as open311_models
from civicgrid.numbering import models as numbering_models
from civicgrid.people import models as people_models
from civicgrid.people.orgs import models as org_models
from civicgrid.response import models as response_models
from civicgrid.supervision import models as supervision_models
from civicgrid.timers import models as timers_models
from civicgrid.workflow import models as workflow_models
from civicgrid.worktime import models as worktime_models

__all__ = [
    "alerts_models",
    "apiclients_models",
    "audit_models",
    "disputes_models",
    "events_models",
    "files_models",
    "gazetteer_models",
    "geo_models",
    "inbox_models",
    "matter_figures_models",
    "matters_models",
    "numbering_models",
    "open311_models",
    "org_models",
    "people_models",
    "response_models",
    "supervision_models",
    "timers_models",
    "workflow_models",
    "worktime_models",
]
