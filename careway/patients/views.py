"""Placeholder views: each is being replaced by its real page."""

from django.http import HttpResponse


def _todo(request, *args, **kwargs):
    return HttpResponse("Not built yet", status=501)


caseload = patient_create = chart = patient_edit = contact_create = contact_edit = _todo
condition_create = medication_create = allergy_create = vitals_create = careteam_add = _todo
