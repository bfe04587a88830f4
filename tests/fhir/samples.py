"""FHIR resources the import tests share: a patient with an MRN, and bundles of resources."""

HOSPITAL = "urn:example:hospital"
MR = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


def patient(pid: str = "p1", mrn: str = "H-1001", family: str = "Okonkwo", **extra) -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"type": MR, "system": HOSPITAL, "value": mrn}],
        "name": [{"family": family, "given": ["Adaeze"]}],
        "gender": "female",
        "birthDate": "1941-06-02",
        "address": [{"line": ["12 Elm Street"], "city": "Albany", "state": "NY"}],
        **extra,
    }


def bundle(*resources, kind: str = "transaction", urls: list[str] | None = None) -> dict:
    entries = []
    for index, resource in enumerate(resources):
        entry = {"fullUrl": urls[index] if urls else f"urn:uuid:{resource['id']}"}
        entry["resource"] = resource
        if kind == "transaction":
            entry["request"] = {"method": "POST", "url": resource["resourceType"]}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": kind, "entry": entries}
