"""Writes of webhook endpoints: register, change, delete, rotate."""

import base64
import secrets

from django.utils import timezone

from bookings.models import ApiKey, Business

from .models import WebhookEndpoint

SECRET_PREFIX = "whsec_"
SECRET_RANDOM_BYTES = 32


def generate_secret() -> str:
    """`whsec_` + base64 of 32 random bytes: the Standard Webhooks secret format."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_RANDOM_BYTES)).decode("ascii")


def webhook_endpoint_create(
    *,
    owner: ApiKey,
    url: str,
    events: list[str],
    description: str = "",
    business: Business | None = None,
) -> WebhookEndpoint:
    """Register an endpoint for a business key, or for a hub key (optionally narrowed to `business`).

    The caller has validated the input: `url` with the model field's validator, and
    `business` as one of the hub's.
    """
    if owner.business_id is not None:
        business, hub = owner.business, None
    else:
        hub = owner.hub
    return WebhookEndpoint.objects.create(
        business=business,
        hub=hub,
        url=url,
        events=list(events),
        description=description,
        secret=generate_secret(),
    )


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Stop all delivery to the endpoint; its delivery log stays for the operators."""
    endpoint.deleted_at = timezone.now()
    endpoint.is_active = False
    endpoint.save(update_fields=["deleted_at", "is_active", "updated_at"])
