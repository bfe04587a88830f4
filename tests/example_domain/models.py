from typing import ClassVar

from django.db import models

from careway.patients.models import PatientRecord

from .permissions import NOTES_EDIT


class ExampleNote(PatientRecord):
    text = models.CharField(max_length=500)

    edit_permission: ClassVar[str] = NOTES_EDIT.code
