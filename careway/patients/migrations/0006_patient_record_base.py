from django.db import migrations


class Migration(migrations.Migration):
    """The first step to one base for every patient record: an old version's time of keeping is
    its `created_at` now (the base's name), not `replaced_at`."""

    dependencies = [("patients", "0005_emergency_access")]

    operations = [
        migrations.RenameField(
            model_name="recordversion", old_name="replaced_at", new_name="created_at"
        ),
    ]
