from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("core", "0001_squashed_0003_audit_append_only")]

    operations = [
        migrations.AddField(
            model_name="notification",
            name="link",
            field=models.CharField(blank=True, max_length=300),
        ),
        migrations.AddField(
            model_name="notification",
            name="link_label",
            field=models.CharField(blank=True, max_length=60),
        ),
    ]
