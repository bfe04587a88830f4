"""What Careway's own care plan resources share: their code systems, the ids of the
ServiceRequests a plan's frequencies and interventions are, and a problem as a reference.

Used by care_plan.py (CarePlan), plan_goal.py (Goal), service_request.py (ServiceRequest) and
careplan_draft.py (taking a plan in as a draft). No standard terminology codes a home health
discipline's visits or the kinds of a home health intervention, so they are Careway's own code
systems, always with their words (display and text), so that a reader needs nothing of Careway.

Where a signature stands (issue 19): a plan of care sent to the certifying practitioner, a verbal
order, and the visit frequencies a plan of care carries say so with Careway's complex extension
signature-status (`signature_extension`): `status` (Careway's signature-status codes: taken, sent,
signed, overdue), `due` (the date it must be signed by), `sent` and `signed`. No R4 element says
"awaiting the practitioner's signature": a request's status is about the order itself (active
until it ends), and a DocumentReference's docStatus has no "overdue".
"""

import uuid
from collections.abc import Callable
from datetime import UTC, date
from html import escape
from typing import Any

from django.db.models import Q, QuerySet
from django.utils import timezone

from careway.careplans.models import PlanOfCare, Problem
from careway.careplans.plan_of_care import is_overdue
from careway.careplans.services import agency_zone
from careway.core.roles import Discipline
from careway.fhir import codes

# A Careway plan wherever it goes: the CarePlan's identifier, whose value is the plan's id.
PLAN_IDENTIFIER = f"{codes.CAREWAY}care-plan"
DISCIPLINE = f"{codes.CAREWAY}CodeSystem:discipline"
INTERVENTION_KIND = f"{codes.CAREWAY}CodeSystem:intervention-kind"
REQUEST_KIND = f"{codes.CAREWAY}CodeSystem:service-request-kind"
GOAL_MEASURE = f"{codes.CAREWAY}CodeSystem:goal-measure"
# On a Goal and a ServiceRequest: the plan it belongs to (a ServiceRequest says so in basedOn too).
EXT_CARE_PLAN = codes.careway_extension("care-plan")
# On a ServiceRequest that is one part of a frequency: which part, from 1 (see service_request.py).
EXT_PART = codes.careway_extension("frequency-part")
# An intervention done at the visits of a discipline (at that discipline's frequency).
EXT_AT_VISITS_OF = codes.careway_extension("at-visits-of")

# On a plan of care, a verbal order and a visit frequency: where its signature stands.
EXT_SIGNATURE = codes.careway_extension("signature-status")
SIGNATURE_STATUS = f"{codes.CAREWAY}CodeSystem:signature-status"
SIGNATURE_LABELS = {
    "taken": "Taken, not yet sent",
    "sent": "Sent for signature",
    "signed": "Signed",
    "overdue": "Overdue for signature",
}

# The plans of care Careway serves (document_reference.py): sent, with their document (a draft
# has none, and R4 requires a DocumentReference to have content).
PLAN_OF_CARE_SERVED = Q(sent_pdf__isnull=False) & ~Q(status=PlanOfCare.Status.DRAFT)

FREQUENCY_PREFIX = "frequency-"
INTERVENTION_PREFIX = "intervention-"
DISCIPLINES = dict(Discipline.choices)


def part_count(notation: str) -> int:
    """How many parts a frequency has ('3w1, 2w4': 2); none is one request without a timing.
    The notation's parts are separated by commas, which no part holds (frequency.parse)."""
    return notation.count(",") + 1 if notation.strip() else 1


def request_id(prefix: str, pk: Any, part: int) -> str:
    """`frequency-<uuid>-<part>` or `intervention-<uuid>-<part>` (at most 52 characters)."""
    return f"{prefix}{pk}-{part}"


def _split(prefix: str, ident: str) -> tuple[uuid.UUID, int] | None:
    if not ident.startswith(prefix):
        return None
    key, _, part = ident[len(prefix) :].rpartition("-")
    if not (part.isascii() and part.isdigit() and len(part) <= 3):
        return None
    try:
        pk = uuid.UUID(key)
    except ValueError:
        return None
    return (pk, int(part)) if str(pk) == key else None  # only the id as Careway writes it


def locate_request(prefix: str) -> Callable[[str], Q | None]:
    def locate(ident: str) -> Q | None:
        found = _split(prefix, ident)
        return Q(pk=found[0]) if found else None

    return locate


def part_in(prefix: str) -> Callable[[str], int]:
    def part(ident: str) -> int:
        found = _split(prefix, ident)
        return found[1] if found else 0

    return part


def in_plan_order(rows: QuerySet, *order: str) -> QuerySet:
    """A plan's rows of a chunk of patients in the plan's own order (export writes them so, and
    an import takes them back in that order)."""
    return rows.order_by("patient_id", "plan_id", *order, "pk")


def discipline_concept(code: str, words: str = "") -> dict[str, Any]:
    label = DISCIPLINES.get(code, code)
    return {
        "coding": [{"system": DISCIPLINE, "code": code, "display": label}],
        "text": words or label,
    }


def plan_reference(plan_id: Any) -> dict[str, Any]:
    return {"reference": f"CarePlan/{plan_id}"}


def problem_reference(problem: Problem) -> dict[str, Any]:
    """A problem as a Reference: to its Condition when it is one of the chart's, else its words
    alone (a display-only reference: a problem the team wrote is not a diagnosis, and is not
    dressed up as a Condition)."""
    if problem.condition_id:
        return {"reference": f"Condition/{problem.condition_id}", "display": problem.text}
    return {"display": problem.text}


def narrative(title: str, sections: list[tuple[str, list[str]]]) -> dict[str, Any]:
    """A generated XHTML narrative: a heading, then each section's items as a list."""
    html = [f"<h2>{escape(title)}</h2>"]
    for heading, items in sections:
        if items:
            html.append(f"<p><b>{escape(heading)}</b></p><ul>")
            html += [f"<li>{escape(item)}</li>" for item in items]
            html.append("</ul>")
    div = '<div xmlns="http://www.w3.org/1999/xhtml">' + "".join(html) + "</div>"
    return {"status": "generated", "div": div}


# --- signatures ----------------------------------------------------------------------------------


def agency_today(organization: Any) -> date:
    """Today in the agency's own time zone (a deadline is a day where the agency is)."""
    return timezone.localdate(timezone=agency_zone(organization.pk))


def due_date(record: Any) -> date | None:
    """When a plan of care or verbal order must be signed by: set when it is sent, from the
    agency's deadline (careway/careplans/plan_of_care.py)."""
    return record.due_by


def signature_status(record: Any) -> str:
    """taken, sent, signed or overdue, as the care plan domain decides overdue (`is_overdue`: sent,
    unsigned, past its due day in the agency's zone); "" for a draft or a record entered in
    error."""
    if record.status == "signed":
        return "signed"
    if record.status not in ("taken", "sent"):
        return ""
    if is_overdue(record, agency_today(record.organization)):
        return "overdue"
    return str(record.status)


def signature_extension(record: Any) -> list[dict[str, Any]]:
    """Careway's signature-status extension of a plan of care or verbal order ([] when it has no
    signature to track)."""
    status = signature_status(record)
    if not status:
        return []
    due = due_date(record)
    parts: list[dict[str, Any]] = [
        {
            "url": "status",
            "valueCoding": {
                "system": SIGNATURE_STATUS,
                "code": status,
                "display": SIGNATURE_LABELS[status],
            },
        }
    ]
    if due is not None and status != "signed":
        parts.append({"url": "due", "valueDate": due.isoformat()})
    if record.sent_at is not None:
        parts.append({"url": "sent", "valueDateTime": record.sent_at.astimezone(UTC).isoformat()})
    if record.signed_on is not None:
        parts.append({"url": "signed", "valueDate": record.signed_on.isoformat()})
    return [{"url": EXT_SIGNATURE, "extension": parts}]
