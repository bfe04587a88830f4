"""Emergency access grants belong to patients now (they were core's), and core's notifications
name their patient by id only.

For a new database this creates the grants' table. For one that ran core's old migrations
(core_breakglassgrant exists), it also moves the grants across, keeping their ids, drops the old
table, removes the old foreign key from notifications to patients, and gives the old
notifications about a patient the link to the chart that new ones carry.
"""

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

OLD_TABLE = "core_breakglassgrant"
COLUMNS = "id, reason, granted_at, expires_at, organization_id, patient_id, user_id"


def bring_over_old_rows(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        tables = connection.introspection.table_names(cursor)
    if OLD_TABLE not in tables:
        return
    grant = apps.get_model("patients", "BreakGlassGrant")
    new_table = grant._meta.db_table
    schema_editor.execute(
        f"INSERT INTO {new_table} ({COLUMNS}) SELECT {COLUMNS} FROM {OLD_TABLE}"  # noqa: S608
    )
    if connection.vendor == "postgresql":
        schema_editor.execute(
            f"SELECT setval(pg_get_serial_sequence('{new_table}', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM {new_table}), 1))"  # noqa: S608
        )
    schema_editor.execute(f"DROP TABLE {OLD_TABLE}")
    _drop_notification_foreign_key(apps, schema_editor)
    _link_old_notifications(apps)


def _drop_notification_foreign_key(apps, schema_editor):
    notification = apps.get_model("core", "Notification")
    old = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    old.set_attributes_from_name("patient")
    old.model = notification
    old.remote_field.model = apps.get_model("patients", "Patient")
    schema_editor.alter_field(notification, old, notification._meta.get_field("patient_id"))


def _link_old_notifications(apps):
    notification = apps.get_model("core", "Notification")
    for notice in notification.objects.filter(patient_id__isnull=False, link=""):
        notice.link = f"/patients/{notice.patient_id}/"
        notice.link_label = "Open the chart"
        notice.save(update_fields=["link", "link_label"])


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0002_notification_link"),
        ("patients", "0004_task"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="BreakGlassGrant",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("reason", models.TextField()),
                ("granted_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("expires_at", models.DateTimeField()),
                (
                    "organization",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT, to="core.organization"
                    ),
                ),
                (
                    "patient",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="break_glass_grants",
                        to="patients.patient",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="break_glass_grants",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "indexes": [
                    models.Index(
                        fields=["user", "expires_at"], name="patients_br_user_id_44fb4d_idx"
                    )
                ],
            },
        ),
        migrations.RunPython(bring_over_old_rows, migrations.RunPython.noop),
    ]
