"""Code systems, identifier systems and extension URLs Careway reads and writes in FHIR R4.

The standard ones are HL7's and the terminologies' own URIs. Where Careway says something FHIR
has no element for (code status, "what matters most to me"), it uses an extension under its own
URN base, `urn:careway:fhir:`, so nothing is dressed up as someone else's definition.
"""

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
CVX = "http://hl7.org/fhir/sid/cvx"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
ALLERGY_VERIFICATION = "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"
MARITAL = "http://terminology.hl7.org/CodeSystem/v3-MaritalStatus"
LANGUAGE = "urn:ietf:bcp:47"

US_MBI = "http://hl7.org/fhir/sid/us-mbi"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition"
US_CORE_BIRTHSEX = f"{US_CORE}/us-core-birthsex"
US_CORE_GENDER_IDENTITY = f"{US_CORE}/us-core-genderIdentity"
INTERPRETER_REQUIRED = "http://hl7.org/fhir/StructureDefinition/patient-interpreterRequired"
PRONOUNS = "http://hl7.org/fhir/StructureDefinition/individual-pronouns"

CAREWAY = "urn:careway:fhir:"
CAREWAY_EXTENSION = f"{CAREWAY}StructureDefinition:"


def mrn_system(organization_id: int) -> str:
    """The identifier system of one agency's medical record numbers."""
    return f"{CAREWAY}mrn:{organization_id}"


# Read as well as written (other sources use them).
ICD10 = "http://hl7.org/fhir/sid/icd-10"
US_SSN = "http://hl7.org/fhir/sid/us-ssn"
US_CORE_CONDITION_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/condition-category"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
CONTACT_ROLE = "http://terminology.hl7.org/CodeSystem/v2-0131"
EPISODE_TYPE = "http://terminology.hl7.org/CodeSystem/episodeofcare-type"
# Source of Payment Typology (PHDSC), the payer types US Core Coverage uses.
SOPT = "urn:oid:2.16.840.1.113883.3.221.5"
GEOLOCATION = "http://hl7.org/fhir/StructureDefinition/geolocation"
PATIENT_GENDER_IDENTITY = "http://hl7.org/fhir/StructureDefinition/patient-genderIdentity"

# Careway's own code systems, for values with no standard code that must come back unchanged.
RELATIONSHIP = f"{CAREWAY}relationship"
CARE_TEAM_ROLE = f"{CAREWAY}care-team-role"
COVERAGE_KIND = f"{CAREWAY}coverage-kind"
MEDICAID = f"{CAREWAY}medicaid"
# An assessment instrument's score with no standard code: `<Questionnaire id>/<score key>`.
SCORE = f"{CAREWAY}CodeSystem:score"
# UCUM's annotation for a unitless score, as LOINC writes the unit of its survey totals.
UCUM_SCORE = "{score}"


def careway_extension(name: str) -> str:
    """The URL of one of Careway's own extensions (code-status, what-matters-most, ...)."""
    return f"{CAREWAY_EXTENSION}{name}"
