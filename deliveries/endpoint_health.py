"""Endpoint health: stop sending to endpoints that are gone, or that have failed for days.

A disabled endpoint gets nothing (its pending deliveries are failed when claimed)
until someone enables it again through the API or the admin.
"""

from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone

from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_disable

from .models import Delivery

GONE_STATUS = 410


def endpoint_health_record(*, endpoint: WebhookEndpoint, status_code: int | None, delivery_failed: bool) -> None:
    """After an attempt: disable the endpoint if it said 410 Gone, or has been failing too long."""
    if status_code == GONE_STATUS:
        webhook_endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.GONE)
    elif delivery_failed and endpoint_is_failing(endpoint):
        webhook_endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.FAILING)


def endpoint_is_failing(endpoint: WebhookEndpoint) -> bool:
    """Every delivery since the last success failed, for WEBHOOK_DISABLE_AFTER_HOURS and
    at least WEBHOOK_DISABLE_AFTER_FAILURES deliveries."""
    deliveries = Delivery.objects.filter(endpoint=endpoint)
    last_success = deliveries.filter(status=Delivery.Status.SUCCEEDED).aggregate(at=Max("completed_at"))["at"]
    failures = deliveries.filter(status=Delivery.Status.FAILED)
    if last_success is not None:
        failures = failures.filter(created_at__gt=last_success)
    stats = failures.aggregate(count=Count("pk"), first=Min("created_at"))
    if stats["count"] < settings.WEBHOOK_DISABLE_AFTER_FAILURES:
        return False
    failing_since = timezone.now() - timedelta(hours=settings.WEBHOOK_DISABLE_AFTER_HOURS)
    return stats["first"] <= failing_since
