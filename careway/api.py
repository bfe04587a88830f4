"""The JSON API under /api/v1: one CarewayAPI (careway/toolkit/api.py: every error a problem
body), with each domain's router mounted on it."""

from careway.assessments.api import router as assessments_router
from careway.careplans.api import router as careplans_router
from careway.careplans.handout_api import router as handouts_router
from careway.careplans.template_api import router as careplan_templates_router
from careway.patients.api import router as patients_router
from careway.toolkit.api import CarewayAPI

api = CarewayAPI(
    title="Careway API",
    version="1",
    urls_namespace="api",
    description=(
        "Patients, their clinical record, assessments and care plans. Errors are RFC 9457 "
        "problem details; a record you may not see answers 404 exactly as one that does not "
        "exist."
    ),
)
api.add_router("/", patients_router)
api.add_router("/", assessments_router)
api.add_router("/", careplans_router)
api.add_router("/", careplan_templates_router)
api.add_router("/", handouts_router)
