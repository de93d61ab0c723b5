"""Signing secrets at rest: the columns become encrypted fields, and every plaintext secret
already stored is replaced by its Fernet token (reversed: the tokens are decrypted back)."""

from django.db import migrations

import webhooks.models
import webhooks.secret_box
from webhooks.secret_box import decrypt_secret, encrypt_secret

SECRET_COLUMNS = ("secret", "previous_secret")


def rewrite_secrets(apps, schema_editor, transform) -> None:
    """Apply `transform` to each non-empty secret, reading and writing the raw column values
    (the field itself would try to decrypt what is not yet encrypted)."""
    connection = schema_editor.connection
    table = connection.ops.quote_name(apps.get_model("webhooks", "WebhookEndpoint")._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT id, secret, previous_secret FROM {table}")
        rows = cursor.fetchall()
        for endpoint_id, *values in rows:
            new_values = [transform(value) if value else value for value in values]
            cursor.execute(
                f"UPDATE {table} SET secret = %s, previous_secret = %s WHERE id = %s", [*new_values, endpoint_id]
            )


def encrypt_plaintext_secrets(apps, schema_editor):
    rewrite_secrets(apps, schema_editor, encrypt_secret)


def decrypt_secrets(apps, schema_editor):
    rewrite_secrets(apps, schema_editor, decrypt_secret)


class Migration(migrations.Migration):

    dependencies = [
        ("webhooks", "0003_endpoint_secret_default"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="previous_secret",
            field=webhooks.secret_box.EncryptedSecretField(blank=True),
        ),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=webhooks.secret_box.EncryptedSecretField(default=webhooks.models.generate_secret),
        ),
        migrations.RunPython(encrypt_plaintext_secrets, decrypt_secrets),
    ]
