"""Assessments' records on the one patient-record base: an assessment's `started_at` is its
`created_at`, and a response and an amendment name their patient as every record does (filled in
from their assessment)."""

import django.db.models.deletion
from django.db import migrations, models
from django.db.models import OuterRef, Subquery


def patient_from_assessment(apps, schema_editor):
    assessment = apps.get_model("assessments", "Assessment")
    for name in ("Response", "Amendment"):
        model = apps.get_model("assessments", name)
        owner = assessment.objects.filter(pk=OuterRef("assessment_id")).values("patient_id")[:1]
        model.objects.filter(patient__isnull=True).update(patient_id=Subquery(owner))


class Migration(migrations.Migration):
    dependencies = [
        ("assessments", "0001_initial"),
        ("patients", "0006_patient_record_base"),
    ]

    operations = [
        migrations.RenameField(model_name="assessment", old_name="started_at", new_name="created_at"),
        migrations.AddField(
            model_name="response",
            name="patient",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                to="patients.patient",
            ),
        ),
        migrations.AddField(
            model_name="amendment",
            name="patient",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                to="patients.patient",
            ),
        ),
        migrations.RunPython(patient_from_assessment, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="response",
            name="patient",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, to="patients.patient"
            ),
        ),
        migrations.AlterField(
            model_name="amendment",
            name="patient",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.PROTECT, to="patients.patient"
            ),
        ),
    ]
