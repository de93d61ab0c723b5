"""Reads of webhook endpoints: what a caller may see, and who receives an event."""

from django.db.models import Q, QuerySet

from bookings.models import ApiKey, Business

from .event_types import is_subscribed
from .models import WebhookEndpoint


def webhook_endpoints_visible_to(api_key: ApiKey) -> QuerySet[WebhookEndpoint]:
    """A business key sees its business's endpoints; a hub key the hub's and its businesses'."""
    if api_key.business_id is not None:
        return webhook_endpoints_of_business(api_key.business_id)
    return WebhookEndpoint.objects.alive().filter(Q(hub_id=api_key.hub_id) | Q(business__hub_id=api_key.hub_id))


def webhook_endpoints_of_business(business_id) -> QuerySet[WebhookEndpoint]:
    """The endpoints a business manages itself (its key, its portal): not its hub's."""
    return WebhookEndpoint.objects.alive().filter(business_id=business_id, hub__isnull=True)


def webhook_endpoints_serving(business: Business) -> QuerySet[WebhookEndpoint]:
    """The endpoints that receive `business`'s events when active and subscribed: its own,
    its hub's hub-wide ones, and those its hub narrowed to it (disabled and deleted ones too)."""
    owners = Q(business=business, hub__isnull=True)
    if business.hub_id is not None:
        owners |= Q(hub_id=business.hub_id, business__isnull=True)
        owners |= Q(hub_id=business.hub_id, business=business)
    return WebhookEndpoint.objects.filter(owners)


def webhook_endpoints_for_event(*, business: Business, event_type: str) -> list[WebhookEndpoint]:
    """The active endpoints that should receive `event_type` for one of `business`'s bookings."""
    candidates = webhook_endpoints_serving(business).alive().filter(is_active=True)
    # Subscriptions are a short JSON list; filtering them here works on every database.
    return [endpoint for endpoint in candidates if is_subscribed(endpoint.events, event_type)]
