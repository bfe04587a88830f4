"""Coverage <-> careway.patients.Coverage.

- type <-> kind: written with Careway's own coding (exact) and the Source of Payment Typology
  code US Core uses (1 Medicare, 11 Medicare managed care, 2 Medicaid, 32 Veterans Affairs,
  5 private insurance, 81 self-pay, 9 other). Read: Careway's coding if present, else the SOPT
  code by its leading digits, else "other".
- payor[0].display <-> payer_name (required by Careway; a payor with only a reference leaves
  `references["payer_name"]` for the importer to fill in with the organization's name).
- subscriberId <-> member_id; order <-> priority (absent reads as 1, the primary payer);
  period <-> start_date / end_date; status active <-> active (any other status is inactive).
- Coverage has no version in Careway, so meta carries no versionId.
"""

from typing import Any

from careway.fhir import codes
from careway.patients.models import Coverage

from . import Export, Incoming, Invalid, ResourceDeclaration, patient_rows, register
from . import common as c

PATH = "Coverage"
LIMITS = c.limits(Coverage)
ELEMENTS = {"payer_name": "Coverage.payor.display", "member_id": "Coverage.subscriberId"}
KINDS = dict(Coverage.Kind.choices)
STATUSES = frozenset({"active", "cancelled", "draft", "entered-in-error"})
SOPT_OUT = {
    "medicare": ("1", "MEDICARE"),
    "medicare_advantage": ("11", "Medicare (Managed Care)"),
    "medicaid": ("2", "MEDICAID"),
    "va": ("32", "Department of Veterans Affairs"),
    "commercial": ("5", "PRIVATE HEALTH INSURANCE"),
    "self_pay": ("81", "Self-pay"),
    "other": ("9", "MISCELLANEOUS/OTHER"),
}
# Longest prefix first: 11x is Medicare managed care, 32x Veterans Affairs.
SOPT_IN = (("11", "medicare_advantage"), ("32", "va"), ("81", "self_pay"), ("1", "medicare"),
           ("2", "medicaid"), ("5", "commercial"), ("6", "commercial"))  # fmt: skip


def coverage_to_fhir(coverage: Coverage) -> dict[str, Any]:
    sopt_code, sopt_display = SOPT_OUT.get(coverage.kind, SOPT_OUT["other"])
    return c.drop_empty(
        {
            "resourceType": "Coverage",
            "id": str(coverage.pk),
            "status": "active" if coverage.active else "cancelled",
            "type": {
                "coding": [
                    {"system": codes.SOPT, "code": sopt_code, "display": sopt_display},
                    {
                        "system": codes.COVERAGE_KIND,
                        "code": coverage.kind,
                        "display": KINDS.get(coverage.kind, coverage.kind),
                    },
                ],
                "text": KINDS.get(coverage.kind, coverage.kind),
            },
            "subscriberId": coverage.member_id,
            "beneficiary": c.patient_ref(coverage),
            "period": c.drop_empty(
                {
                    "start": c.day(coverage.start_date) if coverage.start_date else None,
                    "end": c.day(coverage.end_date) if coverage.end_date else None,
                }
            ),
            "payor": [{"display": coverage.payer_name}],
            "order": coverage.priority,
        }
    )


def coverage_from_fhir(resource: dict[str, Any]) -> Incoming:
    if "status" not in resource:
        raise Invalid("Coverage.status", "missing: R4 requires the status")
    status = c.code_in(resource, "status", PATH, STATUSES, "active")
    payors = c.objects(resource, "payor", PATH)
    if not payors:
        raise Invalid("Coverage.payor", "missing: Careway needs who pays")
    references: dict[str, str] = {}
    payer = c.text(payors[0], "display", "Coverage.payor[0]")
    if not payer:
        target = c.text(payors[0], "reference", "Coverage.payor[0]")
        if not target:
            raise Invalid("Coverage.payor[0]", "missing: neither a name nor a reference")
        references["payer_name"] = target
    order = resource.get("order", 1)
    if isinstance(order, bool) or not isinstance(order, int) or not 1 <= order <= 32767:
        raise Invalid("Coverage.order", "expected a whole number from 1 (the primary payer)")
    period = c.obj(resource, "period", PATH)
    row: dict[str, Any] = {
        "kind": _kind(resource.get("type")),
        "payer_name": payer,
        "member_id": c.text(resource, "subscriberId", PATH),
        "priority": order,
        "start_date": c.optional_date(period, "start", "Coverage.period"),
        "end_date": c.optional_date(period, "end", "Coverage.period"),
        "active": status == "active",
    }
    c.check_lengths(row, LIMITS, ELEMENTS)
    return Incoming(
        resource_type=PATH,
        model=Coverage,
        rows=[row],
        subject=c.reference(resource, "beneficiary", PATH),
        references=references,
        source_id=c.text(resource, "id", PATH),
        identifiers=c.identifiers(resource, PATH),
    )


def _kind(kind: Any) -> str:
    own = c.coding_code(kind, codes.COVERAGE_KIND, "Coverage.type")
    if own in KINDS:
        return own
    sopt = c.coding_code(kind, codes.SOPT, "Coverage.type")
    return next((k for prefix, k in SOPT_IN if sopt.startswith(prefix)), "other")


# Coverage keeps no time it changed or was recorded: every export has it whole.
register(
    ResourceDeclaration(
        "Coverage",
        Coverage,
        from_fhir=coverage_from_fhir,
        to_fhir=coverage_to_fhir,
        elements=ELEMENTS,
        export=Export(rows=patient_rows(Coverage)),
    )
)
