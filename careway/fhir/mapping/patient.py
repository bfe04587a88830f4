"""Patient <-> careway.patients.Patient, shaped as US Core Patient.

Identifiers written: the agency's MRN (system `codes.mrn_system(organization id)`, type MR), the
Medicare MBI (system `codes.US_MBI`, type MC) and the Medicaid number (Careway's system
`codes.MEDICAID`, type MA: Medicaid numbers have no national system). Read: the MRN is the value
of the first identifier of type MR, else the resource id; the MBI is the identifier of system
US_MBI (or type MC); the Medicaid number the one of type MA. Every identifier is also returned in
`Incoming.identifiers`, so the importer can match a patient it already has.

Birth date: required, and in full (a year or a month alone is refused rather than guessed: the
date of birth identifies the patient).

Names: the official name (else the first that is not maiden/old) gives the family name, the first
given name and the other given names (as the middle name); a name of use "usual" or "nickname"
gives the preferred name. Prefixes and suffixes have no Careway field and are not kept.

Sex: Careway's `sex` is sex assigned at birth, with the codes of FHIR AdministrativeGender. It is
written both as `gender` and as the us-core-birthsex extension (F, M, else UNK). Read, birthsex F
or M wins; otherwise `gender`.

Address: the home address (else the first): its first line, the other lines joined by ", " as the
second line, city, state, postal code, and the geolocation extension as latitude/longitude. A
state written out in full ("Massachusetts") becomes its USPS code; any other state longer than two
letters is refused (Careway keeps the two-letter code).

Telecom: phones of use "mobile" <-> phone_mobile, of use "home" (or none) <-> phone_home (a work
or other phone fills the home phone when there is none); the first email <-> email.

Language: the preferred communication (else the first), its BCP 47 code (urn:ietf:bcp:47, else
the first coding's code); none reads as "en", the model's default.

Not kept, having no Careway field: prefixes and suffixes, marital status, race and ethnicity,
birth place, deceased, multiple birth, other identifiers (returned in `identifiers`).

Repeating elements: at most MAX_NAMES names, MAX_TELECOMS telecoms, MAX_ADDRESSES addresses and
`common.MAX_IDENTIFIERS` identifiers; more is refused naming the element.

Extensions: interpreter need (patient-interpreterRequired), gender identity (US Core
genderIdentity, text), pronouns (individual-pronouns, text); Careway's own code status, advance
directive, "what matters most to me" and no-known-allergies under `codes.CAREWAY_EXTENSION`.

Served by the API: read, vread, search (by name, birth date, gender and identifier, sorted by
family then given name), create and update. A patient created here joins the one branch its
creator works in (one working in several must register them in Careway or /api/v1), and needs
the role's right to register patients. Exported whole; `_since` by the last change.
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from careway.core import audit
from careway.core.models import Branch, User
from careway.fhir import codes, search
from careway.fhir.errors import FhirError
from careway.patients import services
from careway.patients.models import AdvanceDirective, CodeStatus, Patient
from careway.patients.permissions import PATIENT_CREATE

from . import (
    Export,
    Incoming,
    Invalid,
    Located,
    ResourceDeclaration,
    Write,
    Written,
    changed_after,
    register,
)
from . import common as c

PATH = "Patient"
LIMITS = c.limits(Patient)
# Careway keeps one name, one address and three contact points, but reads and checks every entry
# to choose them: a person's record holds a few of each (old names and addresses, work numbers).
MAX_NAMES = 20
MAX_TELECOMS = 20
MAX_ADDRESSES = 20
ELEMENTS = {
    "mrn": "Patient.identifier.value",
    "given_name": "Patient.name.given",
    "middle_name": "Patient.name.given",
    "family_name": "Patient.name.family",
    "preferred_name": "Patient.name.given",
    "gender_identity": "Patient.extension(genderIdentity)",
    "pronouns": "Patient.extension(individual-pronouns)",
    "preferred_language": "Patient.communication.language",
    "address_line": "Patient.address.line",
    "address_line2": "Patient.address.line",
    "city": "Patient.address.city",
    "state": "Patient.address.state",
    "postal_code": "Patient.address.postalCode",
    "phone_home": "Patient.telecom.value",
    "phone_mobile": "Patient.telecom.value",
    "email": "Patient.telecom.value",
    "medicare_number": "Patient.identifier.value",
    "medicaid_number": "Patient.identifier.value",
    "code_status": "Patient.extension(code-status)",
    "advance_directive": "Patient.extension(advance-directive)",
}

GENDERS = frozenset({"male", "female", "other", "unknown"})
BIRTHSEX = {"female": "F", "male": "M"}
BIRTHSEX_READ = {"F": "female", "M": "male"}
CODE_STATUSES = frozenset(CodeStatus.values)
ADVANCE_DIRECTIVES = frozenset(AdvanceDirective.values)

EXT_CODE_STATUS = codes.careway_extension("code-status")
EXT_ADVANCE_DIRECTIVE = codes.careway_extension("advance-directive")
EXT_WHAT_MATTERS = codes.careway_extension("what-matters-most")
EXT_NKA = codes.careway_extension("no-known-allergies")

US_STATES = {
    name.lower(): abbr
    for abbr, name in (
        ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"),
        ("CA", "California"), ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"),
        ("DC", "District of Columbia"), ("FL", "Florida"), ("GA", "Georgia"), ("HI", "Hawaii"),
        ("ID", "Idaho"), ("IL", "Illinois"), ("IN", "Indiana"), ("IA", "Iowa"),
        ("KS", "Kansas"), ("KY", "Kentucky"), ("LA", "Louisiana"), ("ME", "Maine"),
        ("MD", "Maryland"), ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"),
        ("MS", "Mississippi"), ("MO", "Missouri"), ("MT", "Montana"), ("NE", "Nebraska"),
        ("NV", "Nevada"), ("NH", "New Hampshire"), ("NJ", "New Jersey"), ("NM", "New Mexico"),
        ("NY", "New York"), ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"),
        ("OK", "Oklahoma"), ("OR", "Oregon"), ("PA", "Pennsylvania"), ("RI", "Rhode Island"),
        ("SC", "South Carolina"), ("SD", "South Dakota"), ("TN", "Tennessee"), ("TX", "Texas"),
        ("UT", "Utah"), ("VT", "Vermont"), ("VA", "Virginia"), ("WA", "Washington"),
        ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"),
        ("AS", "American Samoa"), ("GU", "Guam"), ("MP", "Northern Mariana Islands"),
        ("PR", "Puerto Rico"), ("VI", "U.S. Virgin Islands"), ("VI", "Virgin Islands"),
    )
}  # fmt: skip


def _identifier(type_code: str, type_display: str, system: str, value: str) -> dict[str, Any]:
    return {
        "type": {
            "coding": [
                {"system": codes.IDENTIFIER_TYPE, "code": type_code, "display": type_display}
            ],
            "text": type_display,
        },
        "system": system,
        "value": value,
    }


def patient_to_fhir(patient: Patient) -> dict[str, Any]:
    idents = [
        {
            "use": "usual",
            **_identifier(
                "MR",
                "Medical record number",
                codes.mrn_system(patient.organization_id),
                patient.mrn,
            ),
        }
    ]
    if patient.medicare_number:
        idents.append(
            _identifier("MC", "Patient's Medicare number", codes.US_MBI, patient.medicare_number)
        )
    if patient.medicaid_number:
        idents.append(
            _identifier("MA", "Patient Medicaid number", codes.MEDICAID, patient.medicaid_number)
        )
    official: dict[str, Any] = {
        "use": "official",
        "family": patient.family_name,
        "given": [n for n in (patient.given_name, patient.middle_name) if n],
    }
    names = [official]
    if patient.preferred_name:
        names.append({"use": "usual", "given": [patient.preferred_name]})
    return c.drop_empty(
        {
            "resourceType": "Patient",
            "id": str(patient.pk),
            "meta": c.meta(patient, "updated_at"),
            "extension": _extensions_out(patient),
            "identifier": idents,
            "active": patient.active,
            "name": names,
            "telecom": _telecom_out(patient),
            "gender": patient.sex,
            "birthDate": c.day(patient.birth_date),
            "address": _address_out(patient),
            "communication": [
                {
                    "language": {
                        "coding": [{"system": codes.LANGUAGE, "code": patient.preferred_language}]
                    },
                    "preferred": True,
                }
            ]
            if patient.preferred_language
            else [],
        }
    )


def _extensions_out(patient: Patient) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"url": codes.US_CORE_BIRTHSEX, "valueCode": BIRTHSEX.get(patient.sex, "UNK")},
        {"url": codes.INTERPRETER_REQUIRED, "valueBoolean": patient.interpreter_needed},
    ]
    if patient.gender_identity:
        out.append(
            {
                "url": codes.US_CORE_GENDER_IDENTITY,
                "valueCodeableConcept": {"text": patient.gender_identity},
            }
        )
    if patient.pronouns:
        out.append(
            {
                "url": codes.PRONOUNS,
                "extension": [{"url": "value", "valueCodeableConcept": {"text": patient.pronouns}}],
            }
        )
    out.append({"url": EXT_CODE_STATUS, "valueCode": patient.code_status})
    out.append({"url": EXT_ADVANCE_DIRECTIVE, "valueCode": patient.advance_directive})
    out.append({"url": EXT_NKA, "valueBoolean": patient.no_known_allergies})
    if patient.what_matters_most:
        out.append({"url": EXT_WHAT_MATTERS, "valueString": patient.what_matters_most})
    return out


def _telecom_out(patient: Patient) -> list[dict[str, Any]]:
    out = []
    if patient.phone_home:
        out.append({"system": "phone", "value": patient.phone_home, "use": "home"})
    if patient.phone_mobile:
        out.append({"system": "phone", "value": patient.phone_mobile, "use": "mobile"})
    if patient.email:
        out.append({"system": "email", "value": patient.email})
    return out


def _address_out(patient: Patient) -> list[dict[str, Any]]:
    address = c.drop_empty(
        {
            "use": "home",
            "line": [line for line in (patient.address_line, patient.address_line2) if line],
            "city": patient.city,
            "state": patient.state,
            "postalCode": patient.postal_code,
        }
    )
    if patient.latitude is not None and patient.longitude is not None:
        address["extension"] = [
            {
                "url": codes.GEOLOCATION,
                "extension": [
                    {"url": "latitude", "valueDecimal": patient.latitude},
                    {"url": "longitude", "valueDecimal": patient.longitude},
                ],
            }
        ]
    return [address] if len(address) > 1 else []


def patient_from_fhir(resource: dict[str, Any]) -> Incoming:
    path = PATH
    birth = resource.get("birthDate")
    if birth is None:
        raise Invalid("Patient.birthDate", "missing: Careway needs the date of birth")
    if isinstance(birth, str) and len(birth) != 10:
        raise Invalid("Patient.birthDate", f"Careway needs the full date of birth, not {birth!r}")
    row: dict[str, Any] = {"birth_date": c.parse_date(birth, "Patient.birthDate")}
    row.update(_names_in(resource))
    row.update(_identifiers_in(resource))
    row["active"] = c.boolean(resource, "active", path, default=True)
    row.update(_sex_in(resource))
    row.update(_extensions_in(resource))
    row["preferred_language"] = _language_in(resource)
    row.update(_address_in(resource))
    row.update(_telecom_in(resource))
    if not row["mrn"]:
        row["mrn"] = c.text(resource, "id", path)
    if not row["mrn"]:
        raise Invalid("Patient.identifier", "missing: no MR identifier and no id for the MRN")
    c.check_lengths(row, LIMITS, ELEMENTS)
    return Incoming(
        resource_type="Patient",
        model=Patient,
        rows=[row],
        source_id=c.text(resource, "id", path),
        identifiers=c.identifiers(resource, path),
    )


def _names_in(resource: dict[str, Any]) -> dict[str, str]:
    names = c.objects(resource, "name", PATH, MAX_NAMES)
    if not names:
        raise Invalid("Patient.name", "missing: Careway needs the patient's name")
    official = next((n for n in names if n.get("use") == "official"), None)
    if official is None:
        official = next((n for n in names if n.get("use") not in ("maiden", "old")), names[0])
    where = f"Patient.name[{names.index(official)}]"
    given = [g for g in c.array(official, "given", where) if g]
    for index, part in enumerate(given):
        if not isinstance(part, str):
            raise Invalid(f"{where}.given[{index}]", "wrong type: expected a string")
    family = c.text(official, "family", where)
    if not family or not given:
        raise Invalid(
            f"{where}.{'family' if not family else 'given'}",
            "missing: Careway needs the family name and a given name",
        )
    preferred = ""
    usual = next(
        (n for n in names if n.get("use") in ("usual", "nickname") and n is not official), None
    )
    if usual is not None:
        usual_given = c.array(usual, "given", "Patient.name")
        preferred = usual_given[0] if usual_given and isinstance(usual_given[0], str) else ""
    return {
        "family_name": family,
        "given_name": given[0],
        "middle_name": " ".join(given[1:]),
        "preferred_name": preferred,
    }


def _identifiers_in(resource: dict[str, Any]) -> dict[str, str]:
    mrn = medicare = medicaid = ""
    for index, ident in enumerate(c.objects(resource, "identifier", PATH, c.MAX_IDENTIFIERS)):
        where = f"Patient.identifier[{index}]"
        kind = c.coding_code(ident.get("type"), codes.IDENTIFIER_TYPE, f"{where}.type")
        value = c.text(ident, "value", where)
        system = c.text(ident, "system", where)
        if kind == "MR" and not mrn:
            mrn = value
        elif (system == codes.US_MBI or kind == "MC") and not medicare:
            medicare = value
        elif (system == codes.MEDICAID or kind == "MA") and not medicaid:
            medicaid = value
    return {"mrn": mrn, "medicare_number": medicare, "medicaid_number": medicaid}


def _sex_in(resource: dict[str, Any]) -> dict[str, str]:
    gender = c.code_in(resource, "gender", PATH, GENDERS, "unknown")
    birthsex = c.extension(resource, codes.US_CORE_BIRTHSEX, PATH)
    if birthsex is not None:
        code = c.text(birthsex, "valueCode", "Patient.extension(us-core-birthsex)")
        if code in BIRTHSEX_READ:
            return {"sex": BIRTHSEX_READ[code]}
    return {"sex": gender}


def _extensions_in(resource: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "interpreter_needed": False,
        "gender_identity": "",
        "pronouns": "",
        "code_status": CodeStatus.UNKNOWN,
        "advance_directive": AdvanceDirective.NONE,
        "no_known_allergies": False,
        "what_matters_most": "",
    }
    for index, ext in enumerate(c.objects(resource, "extension", PATH)):
        url = ext.get("url")
        where = f"Patient.extension[{index}]"
        if url == codes.INTERPRETER_REQUIRED:
            row["interpreter_needed"] = c.boolean(ext, "valueBoolean", where)
        elif url in (codes.US_CORE_GENDER_IDENTITY, codes.PATIENT_GENDER_IDENTITY):
            row["gender_identity"] = c.concept(ext.get("valueCodeableConcept"), where)[2]
        elif url == codes.PRONOUNS:
            value = next(
                (e for e in c.objects(ext, "extension", where) if e.get("url") == "value"), {}
            )
            row["pronouns"] = c.concept(value.get("valueCodeableConcept"), where)[2]
        elif url == EXT_CODE_STATUS:
            row["code_status"] = c.code_in(
                ext, "valueCode", where, CODE_STATUSES, CodeStatus.UNKNOWN
            )
        elif url == EXT_ADVANCE_DIRECTIVE:
            row["advance_directive"] = c.code_in(
                ext, "valueCode", where, ADVANCE_DIRECTIVES, AdvanceDirective.NONE
            )
        elif url == EXT_NKA:
            row["no_known_allergies"] = c.boolean(ext, "valueBoolean", where)
        elif url == EXT_WHAT_MATTERS:
            row["what_matters_most"] = c.text(ext, "valueString", where)
    return row


def _language_in(resource: dict[str, Any]) -> str:
    spoken = c.objects(resource, "communication", PATH)
    if not spoken:
        return "en"
    chosen = next((s for s in spoken if s.get("preferred") is True), spoken[0])
    where = f"Patient.communication[{spoken.index(chosen)}].language"
    language = chosen.get("language")
    return c.coding_code(language, codes.LANGUAGE, where) or c.concept(language, where)[1] or "en"


def _address_in(resource: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "address_line": "",
        "address_line2": "",
        "city": "",
        "state": "",
        "postal_code": "",
        "latitude": None,
        "longitude": None,
    }
    addresses = c.objects(resource, "address", PATH, MAX_ADDRESSES)
    if not addresses:
        return row
    home = next((a for a in addresses if a.get("use") == "home"), addresses[0])
    where = f"Patient.address[{addresses.index(home)}]"
    lines = [line for line in c.array(home, "line", where) if line]
    if any(not isinstance(line, str) for line in lines):
        raise Invalid(f"{where}.line", "wrong type: expected strings")
    row["address_line"] = lines[0] if lines else ""
    row["address_line2"] = ", ".join(lines[1:])
    row["city"] = c.text(home, "city", where)
    row["state"] = _state(c.text(home, "state", where), f"{where}.state")
    row["postal_code"] = c.text(home, "postalCode", where)
    geo = c.extension(home, codes.GEOLOCATION, where)
    if geo is not None:
        for part in c.objects(geo, "extension", f"{where}.extension(geolocation)"):
            name = part.get("url")
            if name in ("latitude", "longitude"):
                value = c.number(part, "valueDecimal", f"{where}.extension(geolocation).{name}")
                limit = 90 if name == "latitude" else 180
                if value is not None and not -limit <= value <= limit:
                    raise Invalid(f"{where}.extension(geolocation).{name}", "out of range")
                row[name] = value
    return row


def _state(value: str, path: str) -> str:
    if len(value) <= 2:
        return value.upper()
    abbr = US_STATES.get(value.strip().lower())
    if abbr is None:
        raise Invalid(path, f"not a US state Careway knows: {value!r} (use the two-letter code)")
    return abbr


def _telecom_in(resource: dict[str, Any]) -> dict[str, str]:
    row = {"phone_home": "", "phone_mobile": "", "email": ""}
    others = []
    for index, point in enumerate(c.objects(resource, "telecom", PATH, MAX_TELECOMS)):
        where = f"Patient.telecom[{index}]"
        system = c.text(point, "system", where)
        value = c.text(point, "value", where)
        use = c.text(point, "use", where)
        if system == "email" and not row["email"]:
            row["email"] = value
        elif system in ("phone", "sms") and use == "mobile" and not row["phone_mobile"]:
            row["phone_mobile"] = value
        elif system == "phone" and use in ("home", "") and not row["phone_home"]:
            row["phone_home"] = value
        elif system == "phone":
            others.append(value)
    if not row["phone_home"] and others:
        row["phone_home"] = others[0]
    return row


# --- search --------------------------------------------------------------------------------------

GENDER = search.value_set(*search.stored_as_is("male", "female", "other", "unknown"))


def locate_patient(ident: str) -> Q | None:
    pk = search.uuid_id(ident)
    return Q(pk=pk) if pk is not None else None


@dataclass(frozen=True)
class IdentifierParam(search.Param):
    """Patient.identifier: the agency's MRN, Medicare number (MBI) or Medicaid number."""

    description: str = "An identifier: system|value, or the value in any system."
    type = "token"
    modifiers = frozenset({""})

    def to_q(self, name: str, modifier: str, raw: str, context: search.Context) -> Q:
        fields_by_system = {
            codes.mrn_system(context.organization_id): "mrn",
            codes.US_MBI: "medicare_number",
            codes.MEDICAID: "medicaid_number",
        }
        found = Q(pk__in=[])
        for value in search.alternatives(name, raw):
            system, ident = search.split_token(value)
            ident = ident.replace("\\|", "|")
            if not ident:
                raise search.SearchError(
                    name, f"{name}: give the identifier's value after the '|'."
                )
            if system is None or system == "":
                fields = ["mrn", "medicare_number", "medicaid_number"]
            else:
                fields = [fields_by_system[system]] if system in fields_by_system else []
            for field_name in fields:
                found |= Q(**{field_name: ident})
        return found


SEARCH = search.SearchDeclaration(
    order=("family_name", "given_name", "id"),
    locate=locate_patient,
    patient_path="pk",
    sort_description="by family name, then given name",
    params={
        "_id": search.IdParam(locate=locate_patient),
        "name": search.StringParam(
            ("given_name", "middle_name", "family_name", "preferred_name"),
            "Any part of the name, from its start.",
        ),
        "family": search.StringParam(("family_name",), "The family (last) name, from its start."),
        "given": search.StringParam(
            ("given_name", "middle_name"), "A given (first or middle) name, from its start."
        ),
        "birthdate": search.DateParam("birth_date", days_only=True, description="Date of birth."),
        "gender": search.TokenParam("sex", codes=GENDER, description="Administrative gender."),
        "identifier": IdentifierParam(),
    },
)


# --- written through the API ---------------------------------------------------------------------


def create_patient(actor: audit.Actor, incoming: Incoming) -> Written:
    assert actor.user is not None  # the API acts for a token's user
    branch = _only_branch(actor.user)
    return Written(services.create_patient(actor, branch, incoming.rows[0]))


def update_patient(
    actor: audit.Actor, stored: Located, incoming: Incoming, version: int
) -> Written:
    return Written(services.update_patient(actor, stored.patient, incoming.rows[0], version))


def _only_branch(user: User) -> Branch:
    branches = {m.branch_id: m for m in user.active_memberships() if m.branch_id}
    if len(branches) != 1:
        raise FhirError(
            400,
            "business-rule",
            "You work in several branches (or none), and a FHIR Patient does not say which one "
            "registers them: register this patient in Careway or through /api/v1 instead.",
            "Patient",
        )
    return Branch.objects.get(pk=next(iter(branches)))


register(
    ResourceDeclaration(
        "Patient",
        Patient,
        from_fhir=patient_from_fhir,
        to_fhir=patient_to_fhir,
        elements=ELEMENTS,
        search=SEARCH,
        export=Export(
            rows=lambda ids: Patient.objects.filter(pk__in=ids).order_by("pk"),
            changed_since=changed_after("updated_at"),
        ),
        write=Write(create=create_patient, update=update_patient, create_permission=PATIENT_CREATE),
    )
)
