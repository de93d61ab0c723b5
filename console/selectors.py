"""What the console reads: the stats API's health selectors over a 24-hour window, and the overview's numbers."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Q
from django.utils import timezone

from deliveries.metrics import deliveries_due_unsent
from deliveries.models import Delivery
from deliveries.selectors import EndpointHealth, deliveries_hourly, health_window, webhook_endpoints_health
from webhooks.models import WebhookEndpoint


def endpoints_health(endpoints) -> dict[object, EndpointHealth]:
    """{endpoint id: EndpointHealth} over the last 24 h, for any number of endpoints in two queries."""
    since, until = health_window()
    return webhook_endpoints_health([endpoint.pk for endpoint in endpoints], since=since, until=until)


def endpoints_failing_most(*, limit: int = 10) -> list:
    """The endpoints with the most failed deliveries created in the last 24 h, most first, each
    with its health (endpoint.health): three queries whatever the limit."""
    since, until = health_window()
    window = Q(
        deliveries__created_at__gte=since, deliveries__created_at__lt=until, deliveries__status=Delivery.Status.FAILED
    )
    endpoints = list(
        WebhookEndpoint.objects.annotate(failed_24h=Count("deliveries", filter=window))
        .filter(failed_24h__gt=0).select_related("business", "hub").order_by("-failed_24h", "url")[:limit]
    )
    health = endpoints_health(endpoints)
    for endpoint in endpoints:
        endpoint.health = health[endpoint.pk]
    return endpoints


@dataclass(frozen=True)
class Backlog:
    """Due deliveries no worker has claimed: the numbers /metrics exports, from the same query."""

    count: int
    oldest_due_at: datetime | None
    now: datetime

    @property
    def oldest_age_seconds(self) -> float:
        return max((self.now - self.oldest_due_at).total_seconds(), 0.0) if self.oldest_due_at else 0.0


def backlog() -> Backlog:
    now = timezone.now()
    return Backlog(*deliveries_due_unsent(now), now=now)


def hourly_outcomes() -> list[dict]:
    """Every delivery created in the last 24 h and settled, by hour: the stats API's buckets for all endpoints."""
    since, until = health_window()
    return deliveries_hourly(Delivery.objects.all(), since=since, until=until)
