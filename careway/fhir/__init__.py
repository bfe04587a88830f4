"""FHIR R4: the mapping between Careway's records and FHIR resources, import and the API."""
