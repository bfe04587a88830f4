"""Every agency has the head of its audit chain from now on (Organization.save makes it), so that
`careway audit verify` can report a chain deleted whole. Agencies that had no event yet get an
empty head here; a chain already deleted before this upgrade cannot be told apart."""

from django.db import migrations


def add_missing_heads(apps, schema_editor):
    organization = apps.get_model("core", "Organization")
    chain = apps.get_model("core", "AuditChain")
    have = set(chain.objects.values_list("chain_id", flat=True))
    missing = organization.objects.exclude(pk__in=have).values_list("pk", flat=True)
    chain.objects.bulk_create([chain(chain_id=pk) for pk in missing])


class Migration(migrations.Migration):
    dependencies = [("core", "0002_notification_link")]

    operations = [migrations.RunPython(add_missing_heads, migrations.RunPython.noop)]
