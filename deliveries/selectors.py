"""Reads of the delivery log."""

from datetime import timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from bookings.models import ApiKey
from webhooks.selectors import webhook_endpoints_visible_to

from .models import Delivery


def deliveries_overdue(*, limit: int = 1000) -> list[str]:
    """Deliveries due for a while that no worker holds: their message was lost or never sent."""
    now = timezone.now()
    overdue_since = now - timedelta(seconds=settings.WEBHOOK_SWEEP_AFTER_SECONDS)
    return list(
        Delivery.objects.due_unclaimed(now, due_by=overdue_since)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )


def deliveries_visible_to(api_key: ApiKey) -> QuerySet[Delivery]:
    """Deliveries to the endpoints the key can see (deleted endpoints' logs excluded)."""
    return Delivery.objects.filter(endpoint__in=webhook_endpoints_visible_to(api_key)).select_related("event")
