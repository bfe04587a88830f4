"""What the roles may do with FHIR imports (registered in FhirConfig.ready()). Reading and writing
through the FHIR API follows the chart's own permissions and the token's scopes."""

from careway.core.permissions import declare
from careway.core.roles import Role

RECORDS_IMPORT = declare(
    "records.import",
    "Bring a referral's records in from FHIR files (admins bring records in without reading "
    "charts afterwards).",
    Role.AGENCY_ADMIN,
    Role.CASE_MANAGER,
)
