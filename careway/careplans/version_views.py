"""The patient's version of the care plan: a large-print page to read with the patient or print,
and the same as a PDF (careway/careplans/patient_version.py builds what both show).

Reading the page is a read of the chart (audited as `patient.view` of the care plan section);
downloading the PDF is a disclosure (audited as `patient.export`). Access through
careway.patients.access: 404 to anyone who may not see the patient, whatever they ask.
"""

from datetime import date
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from careway.core import audit
from careway.patients import access
from careway.patients.access import Action
from careway.patients.frame import audited_chart_frame
from careway.patients.models import Patient
from careway.toolkit.pages import agency_page
from careway.toolkit.pdf import PdfUnavailable, render_pdf

from . import patient_version, queries
from .models import CarePlan
from .permissions import CAREPLANS_EDIT

SECTION = "care-plan"
PDF_TEMPLATE = "careplans/patient_version_pdf.html"


def _patient(request: HttpRequest, patient_id: Any, action: Action) -> tuple[audit.Actor, Patient]:
    actor = audit.Actor.from_request(request)
    return actor, access.get_patient_for(actor, patient_id, action, CAREPLANS_EDIT)


def _plan_of(patient: Patient) -> CarePlan | None:
    plan = queries.current_plan(patient)
    if plan is not None:
        CarePlan.patient.field.set_cached_value(plan, patient)
    return plan


def _refuse_post(request: HttpRequest, patient_id: Any) -> HttpResponse:
    """A POST is answered as a write first (403 to a member who may only read, 404 to everyone
    else), then as a method these pages do not take."""
    _patient(request, patient_id, Action.EDIT)
    return HttpResponseNotAllowed(["GET"])


def _switch(patient: Patient, chosen: str) -> list[dict[str, Any]]:
    """The language links for the nurse: each language named in itself."""
    base = reverse("careplans:patient_version", args=[patient.pk])
    return [
        {
            "lang": lang,
            "name": patient_version.words(lang)["language_name"],
            "url": f"{base}?lang={lang}",
            "current": lang == chosen,
        }
        for lang in patient_version.languages()
    ]


@agency_page
def version_page(request: HttpRequest, patient_id: Any) -> HttpResponse:
    if request.method == "POST":
        return _refuse_post(request, patient_id)
    actor, patient = _patient(request, patient_id, Action.VIEW)
    lang, missing = patient_version.language_of(patient, request.GET.get("lang"))
    with transaction.atomic():
        plan = _plan_of(patient)
        version = patient_version.build_version(plan, lang) if plan else None
        context: dict[str, Any] = audited_chart_frame(
            request, actor, patient, SECTION, plan, page="for-patient", lang=lang
        )
    context |= {
        "plan": plan,
        "version": version,
        "language_missing": missing,
        "languages": _switch(patient, lang),
        "pdf_url": reverse("careplans:patient_version_pdf", args=[patient.pk]) + f"?lang={lang}",
    }
    return render(request, "careplans/patient_version.html", context)


def _filename(patient: Patient, lang: str, day: date) -> str:
    """Initials and the date, never the name: a file's name shows in download lists."""
    initials = "".join(n[:1] for n in (patient.given_name, patient.family_name)).upper()
    initials = "".join(c for c in initials if c.isascii() and c.isalpha()) or "patient"
    return f"care-plan-{initials}-{day.isoformat()}-{lang}.pdf"


@agency_page
def version_pdf(request: HttpRequest, patient_id: Any) -> HttpResponse:
    if request.method == "POST":
        return _refuse_post(request, patient_id)
    actor, patient = _patient(request, patient_id, Action.VIEW)
    lang, _ = patient_version.language_of(patient, request.GET.get("lang"))
    plan = _plan_of(patient)
    page = reverse("careplans:patient_version", args=[patient.pk]) + f"?lang={lang}"
    if plan is None:  # the page says there is no plan yet, and what to do
        return redirect(page)
    version = patient_version.build_version(plan, lang)
    try:
        data = render_pdf(PDF_TEMPLATE, {"version": version})
    except PdfUnavailable as reason:
        with transaction.atomic():
            context = audited_chart_frame(
                request, actor, patient, SECTION, plan, page="for-patient-pdf", lang=lang
            )
        context |= {"reason": str(reason), "page_url": page}
        return render(request, "careplans/patient_version_no_pdf.html", context, status=503)
    # The PDF is made outside the transaction; the export is recorded once it exists.
    with transaction.atomic():
        audit.record(
            actor,
            "patient.export",
            patient_id=patient.pk,
            obj=plan,
            detail={"what": "care plan for the patient", "format": "pdf", "lang": lang,
                    "revision": plan.revision},
        )  # fmt: skip
    response = HttpResponse(data, content_type="application/pdf")
    today = timezone.localdate(timezone=patient_version.zone_of(patient.organization))
    name = _filename(patient, lang, today)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "no-store"
    return response
