"""Reads of the delivery log."""

from django.db.models import QuerySet

from bookings.models import ApiKey
from webhooks.selectors import webhook_endpoints_visible_to

from .models import Delivery


def deliveries_visible_to(api_key: ApiKey) -> QuerySet[Delivery]:
    """Deliveries to the endpoints the key can see (deleted endpoints' logs excluded)."""
    return Delivery.objects.filter(endpoint__in=webhook_endpoints_visible_to(api_key)).select_related("event")
