"""The plan of care's pages."""

from datetime import date
from typing import Any

from django.db.models import QuerySet
from django.urls import reverse

from careway.core.models import User
from careway.patients.models import Patient
from careway.patients.today import TodayRow

from . import plan_of_care


def overdue_today_rows(user: User, patients: QuerySet[Patient], today: date) -> list[TodayRow]:
    """Plans of care and verbal orders of the person's patients unsigned past their due day,
    longest overdue first (two queries)."""
    if user.organization_id is None:
        return []
    ids = patients.values("pk")
    pocs, verbal = plan_of_care.unsigned_orders(user.organization_id, ids)
    rows: list[tuple[int, TodayRow]] = []
    for row in [*pocs, *verbal]:
        days = plan_of_care.overdue_days(row, today)
        if not days:
            continue
        what = "Plan of care" if isinstance(row, plan_of_care.PlanOfCare) else "Verbal order"
        rows.append(
            (
                days,
                TodayRow(
                    patient_id=row.patient_id,
                    title=f"{what} unsigned, due {row.due_by:%b %-d}",
                    reason=f"Sent {row.sent_at:%b %-d} and not signed: {days} day"
                    f"{'s' if days != 1 else ''} overdue. Call the practitioner's office.",
                    urgency="overdue",
                    url=_url_of(row),
                    item=row,
                ),
            )
        )
    rows.sort(key=lambda pair: -pair[0])
    return [row for _, row in rows]


def _url_of(row: Any) -> str:
    return reverse("careplans:plan_of_care_list", kwargs={"patient_id": row.patient_id})
