"""RelatedPerson <-> careway.patients.RelatedPerson (family, caregivers, contacts).

- relationship <-> relationship: written with Careway's own coding (exact) and, where there is
  one, the v3 RoleCode (SPS, CHILD, PRN, SIB, GRNDCHILD, FAMMEMB, FRND, GUARD, HPOWATT); an
  emergency contact also carries v2-0131 "C" (Emergency Contact), which is how
  is_emergency_contact is read and written. Read: Careway's coding, else a RoleCode (the family
  of codes: HUSB, WIFE, DOMPART -> spouse, SON, DAU -> child, MTH, FTH -> parent, ...), else other.
- name[0] (its text, else given and family names) <-> name; required.
- telecom: the first phone <-> phone, the first email <-> email.
- active <-> active.
- lives_with_patient, is_primary_caregiver, may_receive_information and notes have no FHIR
  element: Careway's extensions lives-with-patient, primary-caregiver,
  may-receive-information and contact-notes.
"""

from typing import Any

from careway.fhir import codes, search
from careway.patients.models import RelatedPerson

from . import (
    Export,
    Incoming,
    Invalid,
    ResourceDeclaration,
    changed_after,
    patient_rows,
    register,
)
from . import common as c

PATH = "RelatedPerson"
LIMITS = c.limits(RelatedPerson)
ELEMENTS = {"name": "RelatedPerson.name", "phone": "RelatedPerson.telecom.value"}
RELATIONSHIPS = dict(RelatedPerson.Relationship.choices)
ROLE_OUT = {
    "spouse": "SPS", "child": "CHILD", "parent": "PRN", "sibling": "SIB",
    "grandchild": "GRNDCHILD", "relative": "FAMMEMB", "friend": "FRND", "guardian": "GUARD",
    "agent": "HPOWATT",
}  # fmt: skip
ROLE_IN = {
    **{code: kind for kind, code in ROLE_OUT.items()},
    **dict.fromkeys(("HUSB", "WIFE", "DOMPART", "SIGOTHR"), "spouse"),
    **dict.fromkeys(
        ("SON", "DAU", "CHLDADOPT", "SONADOPT", "DAUADOPT", "CHLDINLAW", "STPCHLD", "CHLDFOST"),
        "child",
    ),
    **dict.fromkeys(("MTH", "FTH", "PRNINLAW", "STPPRN", "MTHINLAW", "FTHINLAW"), "parent"),
    **dict.fromkeys(("BRO", "SIS", "HSIB", "STPSIB", "SIBINLAW"), "sibling"),
    **dict.fromkeys(("GRNDSON", "GRNDDAU"), "grandchild"),
    **dict.fromkeys(("NBOR", "ROOM"), "friend"),
    **dict.fromkeys(("POWATT", "DPOWATT", "SPOWATT"), "agent"),
}
FAMILY = frozenset(
    {"AUNT", "UNCLE", "COUSN", "NIECE", "NEPHEW", "NIENEPH", "GRPRN", "GRMTH", "GRFTH", "GGRPRN",
     "EXT", "FAMMEMB"}
)  # fmt: skip
FLAGS = {
    "lives_with_patient": codes.careway_extension("lives-with-patient"),
    "is_primary_caregiver": codes.careway_extension("primary-caregiver"),
    "may_receive_information": codes.careway_extension("may-receive-information"),
}
EXT_NOTES = codes.careway_extension("contact-notes")


def related_person_to_fhir(person: RelatedPerson) -> dict[str, Any]:
    coding = [
        {
            "system": codes.RELATIONSHIP,
            "code": person.relationship,
            "display": RELATIONSHIPS.get(person.relationship, person.relationship),
        }
    ]
    if person.relationship in ROLE_OUT:
        coding.append({"system": codes.ROLE_CODE, "code": ROLE_OUT[person.relationship]})
    relationship = [{"coding": coding, "text": coding[0]["display"]}]
    if person.is_emergency_contact:
        relationship.append(
            {
                "coding": [
                    {"system": codes.CONTACT_ROLE, "code": "C", "display": "Emergency Contact"}
                ]
            }
        )
    extensions = [
        {"url": url, "valueBoolean": getattr(person, name)} for name, url in FLAGS.items()
    ]
    if person.notes:
        extensions.append({"url": EXT_NOTES, "valueString": person.notes})
    telecom = []
    if person.phone:
        telecom.append({"system": "phone", "value": person.phone})
    if person.email:
        telecom.append({"system": "email", "value": person.email})
    return c.drop_empty(
        {
            "resourceType": "RelatedPerson",
            "id": str(person.pk),
            "meta": c.meta(person, "updated_at"),
            "extension": extensions,
            "active": person.active,
            "patient": c.patient_ref(person),
            "relationship": relationship,
            "name": [{"text": person.name}],
            "telecom": telecom,
        }
    )


def related_person_from_fhir(resource: dict[str, Any]) -> Incoming:
    row: dict[str, Any] = {
        "name": _name(resource),
        "active": c.boolean(resource, "active", PATH, default=True),
        "phone": "",
        "email": "",
        "notes": "",
        **{name: False for name in FLAGS},
        **_relationship(resource),
    }
    for index, point in enumerate(c.objects(resource, "telecom", PATH)):
        where = f"RelatedPerson.telecom[{index}]"
        system = c.text(point, "system", where)
        if system in ("phone", "sms") and not row["phone"]:
            row["phone"] = c.text(point, "value", where)
        elif system == "email" and not row["email"]:
            row["email"] = c.text(point, "value", where)
    for name, url in FLAGS.items():
        ext = c.extension(resource, url, PATH)
        if ext is not None:
            row[name] = c.boolean(ext, "valueBoolean", f"RelatedPerson.extension({url})")
    notes = c.extension(resource, EXT_NOTES, PATH)
    if notes is not None:
        row["notes"] = c.text(notes, "valueString", "RelatedPerson.extension(contact-notes)")
    c.check_lengths(row, LIMITS, ELEMENTS)
    return Incoming(
        resource_type=PATH,
        model=RelatedPerson,
        rows=[row],
        subject=c.reference(resource, "patient", PATH),
        source_id=c.text(resource, "id", PATH),
        identifiers=c.identifiers(resource, PATH),
    )


def _name(resource: dict[str, Any]) -> str:
    for index, name in enumerate(c.objects(resource, "name", PATH)):
        where = f"RelatedPerson.name[{index}]"
        words = c.text(name, "text", where)
        if not words:
            given = [g for g in c.array(name, "given", where) if isinstance(g, str)]
            words = " ".join([*given, c.text(name, "family", where)]).strip()
        if words:
            return words
    raise Invalid("RelatedPerson.name", "missing: Careway needs the person's name")


def _relationship(resource: dict[str, Any]) -> dict[str, Any]:
    kind = ""
    emergency = False
    for index, cc in enumerate(c.objects(resource, "relationship", PATH)):
        where = f"RelatedPerson.relationship[{index}]"
        own = c.coding_code(cc, codes.RELATIONSHIP, where)
        role = c.coding_code(cc, codes.ROLE_CODE, where)
        if c.coding_code(cc, codes.CONTACT_ROLE, where) == "C":
            emergency = True
        if own in RELATIONSHIPS:
            kind = own
        elif not kind and role:
            kind = ROLE_IN.get(role) or ("relative" if role in FAMILY else "")
    return {"relationship": kind or "other", "is_emergency_contact": emergency}


# --- search --------------------------------------------------------------------------------------

SEARCH = search.SearchDeclaration(
    order=("name", "id"),
    includes=("patient",),
    sort_description="by name",
    params=search.with_patient({"_id": search.IdParam(locate=search.locate_by_int)}, subject=False),
)

register(
    ResourceDeclaration(
        "RelatedPerson",
        RelatedPerson,
        from_fhir=related_person_from_fhir,
        to_fhir=related_person_to_fhir,
        elements=ELEMENTS,
        search=SEARCH,
        export=Export(rows=patient_rows(RelatedPerson), changed_since=changed_after("updated_at")),
    )
)
