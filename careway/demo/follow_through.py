"""What the demo's case managers did after writing each plan: the patient's agreement, the
teaching with its teach-back, and the physician's plan of care sent for signature, all through
the care plan services.

- Agreement: recorded when the plan is put in effect (careway/demo/careplans.py calls `agree`),
  so a plan revised afterwards asks for agreement again, as it would in real life. The patient
  signs on the tablet; a patient with dementia agrees through their healthcare agent when they
  have one, verbally, with the caregiver as witness.
- Teaching: each scenario's topic (TOPICS) taught at the latest visit: a heart failure patient's
  zones need reinforcement (a task for the next visit), the others were understood.
- Plan of care: the start-of-care certification drafted, filled in from the agency's certifying
  practitioner and the hospital's face-to-face encounter (content/agencies.json), and sent the
  day after the start of care; signed a week later when that day has come. One plan is left
  unsigned 35 days after it was sent (riverbend's dm_kidney patient, in care 40 days), so that
  "Orders overdue for signature" has something to show; one heart failure patient has a verbal
  order taken two days ago and sent, awaiting signature.
"""

from datetime import date, timedelta
from typing import Any

from careway.careplans import plan_of_care, teaching
from careway.careplans.models import CarePlan, PlanOfCare
from careway.core import audit
from careway.patients.models import RelatedPerson

# The teaching topic of each scenario family (a key of content/handouts/).
TOPICS = {
    "heart_failure": "heart-failure-zones",
    "copd": "inhaler-use",
    "diabetes": "low-blood-sugar",
    "hip_fracture": "fall-prevention-home",
    "stroke": "fall-prevention-home",
    "dementia": "fall-prevention-home",
}
OVERDUE = ("riverbend-demo", "dm_kidney")
OVERDUE_SENT_DAYS_AGO = 35
SIGNED_AFTER_DAYS = 7
VERBAL_ORDER = ("riverbend-demo", "hf_fluid")
HOMEBOUND = (
    "Criterion one: needs a walker and the help of another person to leave home. Criterion two: "
    "leaving home is a taxing effort (short of breath and unsteady after about 20 feet), so the "
    "patient leaves only for medical care."
)


def agree(actor: audit.Actor, plan: CarePlan, family: str, caregiver: RelatedPerson | None) -> None:
    """The agreement to the plan as it was put in effect."""
    agent = RelatedPerson.objects.filter(
        patient_id=plan.patient_id, active=True, relationship__in=["agent", "guardian"]
    ).first()
    if family == "dementia" and agent is not None:
        data: dict[str, Any] = {
            "who": "representative",
            "representative": agent.pk,
            "method": "verbal",
            "witness_name": caregiver.name if caregiver else "Riverbend nurse on the visit",
        }
    else:
        data = {"who": "patient", "method": "signature", "signature": _signature(plan)}
    teaching.record_agreement(actor, plan, {**data, "revision": plan.revision})


def _signature(plan: CarePlan) -> list[list[list[int]]]:
    """A hand-like scrawl on the 600 x 200 pad, different for each patient."""
    seed = int(str(plan.patient_id).replace("-", "")[:6], 16)
    strokes, x = [], 40
    for letter in range(3):
        points = []
        for step in range(7):
            y = 130 - ((seed >> (letter * 7 + step)) % 3) * 25 - (step % 2) * 40
            points.append([x + step * 18, y])
        strokes.append(points)
        x += 150
    return strokes


def follow_through(
    actor: audit.Actor, plan: CarePlan, agency: Any, scenario: str, family: str, today: date
) -> None:
    """Teaching and the plan of care of a plan in effect."""
    if plan.status != CarePlan.Status.ACTIVE:
        return
    _teach(actor, plan, family)
    _plan_of_care(actor, plan, agency, scenario, today)


def _teach(actor: audit.Actor, plan: CarePlan, family: str) -> None:
    topic = TOPICS.get(family)
    if topic is None:
        return
    caregiver = RelatedPerson.objects.filter(
        patient_id=plan.patient_id, active=True, is_primary_caregiver=True
    ).first()
    audience = (
        {"audience": "caregiver", "caregiver": caregiver.pk}
        if family == "dementia" and caregiver
        else {"audience": "patient"}
    )
    result = "needs-reinforcement" if family == "heart_failure" else "understood"
    teaching.record_teaching(
        actor,
        plan.patient,
        {
            "topic": topic,
            **audience,
            "explained": True,
            "demonstrated": family in ("copd", "diabetes"),
            "handout_given": True,
            "result": result,
            "notes": "Used the handout in the patient's language; family present.",
        },
    )


def _plan_of_care(
    actor: audit.Actor, plan: CarePlan, agency: Any, scenario: str, today: date
) -> PlanOfCare | None:
    start = plan.episode.start_of_care
    if start is None:
        return None
    spec = agency.spec
    poc = plan_of_care.draft_plan_of_care(actor, plan, today=today)
    primary = poc.diagnoses[0]["display"] if poc.diagnoses else "the primary diagnosis"
    poc = plan_of_care.update_plan_of_care(
        actor,
        poc,
        {
            "practitioner_name": spec["certifying"]["name"],
            "practitioner_kind": spec["certifying"]["kind"],
            "practitioner_npi": spec["certifying"]["npi"],
            "practitioner_address": spec["certifying"]["address"],
            "practitioner_phone": spec["certifying"]["phone"],
            "face_to_face_date": start - timedelta(days=2),
            "face_to_face_practitioner": spec["face_to_face"]["name"],
            "face_to_face_kind": spec["face_to_face"]["kind"],
            "face_to_face_findings": (
                f"Seen before discharge home for {primary}. Needs skilled nursing to teach, "
                "assess and adjust care at home, and therapy to regain safe walking."
            ),
            "homebound": True,
            "homebound_reason": HOMEBOUND,
            "prognosis": "fair",
            "mental_status": "Oriented; forgetful at times.",
            "rehab_potential": "Good for the goals of this plan with family support.",
            "discharge_plans": "Discharge to self-care with family support when the goals are met.",
            "safety_measures": "Fall precautions; clear paths; night lights; emergency plan.",
            "nutritional_requirements": "Low-sodium (2 g), heart-healthy diet.",
            "equipment_supplies": "Walker; shower chair; scale.",
            "functional_limitations": ["6", "7"],
            "activities_permitted": ["3", "B"],
        },
        poc.version,
    )
    overdue = (agency.organization.slug, scenario) == OVERDUE
    sent_on = (
        today - timedelta(days=OVERDUE_SENT_DAYS_AGO)
        if overdue
        else min(start + timedelta(days=1), today)
    )
    poc = plan_of_care.send_plan_of_care(actor, poc, "fax", poc.version, sent_on=sent_on)
    signed_on = sent_on + timedelta(days=SIGNED_AFTER_DAYS)
    if not overdue and signed_on <= today:
        poc = plan_of_care.mark_plan_of_care_signed(actor, poc, signed_on, poc.version)
    if (agency.organization.slug, scenario) == VERBAL_ORDER:
        order = plan_of_care.take_verbal_order(
            actor,
            plan,
            {
                "text": "Furosemide 40 mg by mouth twice a day for 3 days, then back to once a "
                "day. Weigh daily; call if up 2 lb more.",
                "discipline": "RN",
                "practitioner_name": spec["certifying"]["name"],
                "practitioner_kind": spec["certifying"]["kind"],
                "read_back": True,
                "plan_of_care": poc,
            },
        )
        plan_of_care.send_verbal_order(actor, order, "fax", order.version)
    return poc
