from django.db.models import Count, QuerySet

from careway.patients.models import Patient

from .models import ExampleNote


def with_note_count(patients: QuerySet[Patient]) -> QuerySet[Patient]:
    return patients.annotate(note_count=Count("examplenote", distinct=True))


def notes_of(patient: Patient) -> list[ExampleNote]:
    return list(ExampleNote.objects.filter(patient=patient).order_by("-created_at", "-pk")[:50])
