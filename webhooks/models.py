"""Webhook endpoints: where a business or a hub wants its booking events sent."""

import base64
import secrets
import uuid

from django.db import models
from django.db.models import Q

from bookings.models import Business, Hub

from .secret_box import EncryptedSecretField
from .url_policy import MAX_URL_LENGTH, endpoint_url_validator

SECRET_PREFIX = "whsec_"
SECRET_RANDOM_BYTES = 32


def generate_secret() -> str:
    """`whsec_` + base64 of 32 random bytes: the Standard Webhooks secret format."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_RANDOM_BYTES)).decode("ascii")


class WebhookEndpointQuerySet(models.QuerySet):
    def alive(self):
        """Not deleted. Deleted endpoints stay in the table so their delivery log survives."""
        return self.filter(deleted_at__isnull=True)


class WebhookEndpoint(models.Model):
    class DisabledReason(models.TextChoices):
        GONE = "gone", "The endpoint answered 410 Gone"
        FAILING = "failing", "Every delivery failed for too long"
        MANUAL = "manual", "Disabled through the API or admin"

    # Encrypted at rest: loading one costs a decryption, so the API's list and get defer them.
    SECRET_FIELDS = ("secret", "previous_secret")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Owned by a business (business set, hub empty) or by a hub (hub set, and
    # business set only when the hub narrowed it to one of its businesses).
    business = models.ForeignKey(
        Business,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="webhook_endpoints",
        db_index=False,  # led by webhook_endpoint_list below
    )
    hub = models.ForeignKey(
        Hub, null=True, blank=True, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.CharField(max_length=MAX_URL_LENGTH, validators=[endpoint_url_validator])
    events = models.JSONField(help_text="Subscribed event types, or ['*'] for all.")
    description = models.CharField(max_length=500, blank=True)
    # Every endpoint gets one, however it is made (the API, the admin, the shell).
    # Both secrets are stored encrypted (secret_box); Python code reads them in clear.
    secret = EncryptedSecretField(default=generate_secret)
    # After a rotation the previous secret keeps signing (alongside) until it expires.
    previous_secret = EncryptedSecretField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    disabled_reason = models.CharField(
        max_length=20, choices=DisabledReason.choices, null=True, blank=True
    )
    # When it stopped getting deliveries (set with disabled_reason, cleared on enabling).
    disabled_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    objects = WebhookEndpointQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="webhook_endpoint_has_an_owner",
                condition=Q(business__isnull=False) | Q(hub__isnull=False),
            )
        ]
        # A business's list, newest first (the API's cursor order): a page reads its own
        # rows from the index instead of sorting every endpoint the business has.
        indexes = [models.Index(fields=["business", "-created_at", "-id"], name="webhook_endpoint_list")]

    def __str__(self) -> str:
        return self.url

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def signing_secrets(self, now) -> list[str]:
        """The secrets that sign a delivery made at `now`: the current one first."""
        if self.previous_secret and self.previous_secret_expires_at and now < self.previous_secret_expires_at:
            return [self.secret, self.previous_secret]
        return [self.secret]
