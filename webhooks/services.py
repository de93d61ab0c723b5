"""Writes of webhook endpoints: register, change, rotate the secret, disable, delete,
and re-encrypt every secret at rest."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from bookings.models import ApiKey, Business

from .models import WebhookEndpoint, generate_secret

DEFAULT_ROTATION_GRACE_SECONDS = 24 * 3600
MAX_ROTATION_GRACE_SECONDS = 7 * 24 * 3600
REENCRYPT_BATCH_SIZE = 500


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
        business = owner.business
    return webhook_endpoint_register(
        business=business, hub_id=owner.hub_id, url=url, events=events, description=description
    )


def webhook_endpoint_register(
    *, business: Business | None, hub_id=None, url: str, events: list[str], description: str = ""
) -> WebhookEndpoint:
    """Register an endpoint for its owner (a business, a hub, or a hub narrowed to a business),
    whoever asks: an API key, or a business's portal session. Input validated by the caller."""
    return WebhookEndpoint.objects.create(
        business=business, hub_id=hub_id, url=url, events=list(events), description=description
    )


def webhook_endpoint_update(*, endpoint: WebhookEndpoint, **changes) -> WebhookEndpoint:
    """Change url, events, description or is_active (validated by the caller).

    Disabling by hand records the reason "manual"; enabling clears any reason,
    including an automatic one ("gone", "failing").
    """
    if "is_active" in changes and changes["is_active"] != endpoint.is_active:
        enabling = changes["is_active"]
        endpoint.disabled_reason = None if enabling else WebhookEndpoint.DisabledReason.MANUAL
        endpoint.disabled_at = None if enabling else timezone.now()
    for field, value in changes.items():
        setattr(endpoint, field, value)
    endpoint.save()
    return endpoint


def webhook_endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> None:
    """Stop deliveries to the endpoint until someone enables it again."""
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_reason=reason, disabled_at=now, updated_at=now
    )


def webhook_endpoint_rotate_secret(
    *, endpoint: WebhookEndpoint, grace_seconds: int = DEFAULT_ROTATION_GRACE_SECONDS
) -> WebhookEndpoint:
    """A new secret signs from now on; the old one signs too for `grace_seconds`."""
    now = timezone.now()
    endpoint.previous_secret = endpoint.secret if grace_seconds else ""
    endpoint.previous_secret_expires_at = now + timedelta(seconds=grace_seconds) if grace_seconds else None
    endpoint.secret = generate_secret()
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    return endpoint


def webhook_endpoint_delete(*, endpoint: WebhookEndpoint) -> None:
    """Stop all delivery to the endpoint; its delivery log stays for the operators."""
    endpoint.deleted_at = timezone.now()
    if endpoint.is_active:
        endpoint.disabled_at = endpoint.deleted_at
    endpoint.is_active = False
    endpoint.save(update_fields=["deleted_at", "is_active", "disabled_at", "updated_at"])


def webhook_secrets_reencrypt() -> int:
    """Encrypt every endpoint's secrets with the first key of WEBHOOK_SECRETS_KEY; the count.

    Deleted endpoints too: their rows stay, and must still open once the old key is gone.
    Reading decrypts with any key and saving encrypts with the first. Each batch is locked
    while it is rewritten, so a rotation at the same moment is never undone.
    """
    rewritten, last_id = 0, None
    while True:
        with transaction.atomic():
            batch = WebhookEndpoint.objects.select_for_update().only("id", "secret", "previous_secret").order_by("id")
            batch = list((batch.filter(id__gt=last_id) if last_id else batch)[:REENCRYPT_BATCH_SIZE])
            WebhookEndpoint.objects.bulk_update(batch, ["secret", "previous_secret"])
        if not batch:
            return rewritten
        rewritten, last_id = rewritten + len(batch), batch[-1].id
