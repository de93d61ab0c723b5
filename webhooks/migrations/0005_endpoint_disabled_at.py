"""When an endpoint stopped getting deliveries. Endpoints disabled before this column existed
get their last change as the best estimate."""

from django.db import migrations, models
from django.db.models import F


def estimate_disabled_at(apps, schema_editor):
    WebhookEndpoint = apps.get_model("webhooks", "WebhookEndpoint")
    WebhookEndpoint.objects.filter(is_active=False).update(disabled_at=F("updated_at"))


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0004_encrypt_secrets_at_rest"),
    ]

    operations = [
        migrations.AddField(
            model_name="webhookendpoint",
            name="disabled_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(estimate_disabled_at, migrations.RunPython.noop),
    ]
