"""Endpoint health: stop sending to endpoints that are gone, or that have failed for days.

A disabled endpoint gets nothing (its pending deliveries are failed when claimed)
until someone enables it again through the API or the admin.
"""

from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Max, Min
from django.utils import timezone

from webhooks.models import WebhookEndpoint
from webhooks.services import webhook_endpoint_disable

from .models import Delivery

GONE_STATUS = 410


def endpoints_health_record(failures: Iterable[tuple[WebhookEndpoint, int | None, bool]]) -> None:
    """After a settled batch, its failed attempts in order (endpoint, status code, whether the
    delivery failed for good): disable an endpoint that said 410 Gone, or has been failing too long.

    The batch is settled first, so an endpoint's history is the same for each of its failures
    in it: whether it is failing is asked once per endpoint, not once per failure."""
    gone, checked = set(), set()
    for endpoint, status_code, delivery_failed in failures:
        if endpoint.pk in gone:
            continue
        if status_code == GONE_STATUS:
            webhook_endpoint_disable(endpoint=endpoint, reason=WebhookEndpoint.DisabledReason.GONE)
            gone.add(endpoint.pk)
        elif delivery_failed and endpoint.pk not in checked:
            checked.add(endpoint.pk)
            if endpoint_is_failing(endpoint):
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
