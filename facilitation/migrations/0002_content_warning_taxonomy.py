from django.db import migrations

from facilitation.taxonomy import CONTENT_WARNINGS


def load(apps, schema_editor):
    ContentWarning = apps.get_model("facilitation", "ContentWarning")
    for position, (key, label, description) in enumerate(CONTENT_WARNINGS):
        ContentWarning.objects.update_or_create(
            key=key, defaults={"label": label, "description": description, "position": position}
        )


def unload(apps, schema_editor):
    ContentWarning = apps.get_model("facilitation", "ContentWarning")
    ContentWarning.objects.filter(key__in=[row[0] for row in CONTENT_WARNINGS]).delete()


class Migration(migrations.Migration):
    dependencies = [("facilitation", "0001_initial")]

    operations = [migrations.RunPython(load, unload)]
