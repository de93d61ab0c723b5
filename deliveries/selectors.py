"""Reads of the delivery log."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncHour

from bookings.models import ApiKey
from webhooks.models import WebhookEndpoint
from webhooks.selectors import webhook_endpoints_visible_to

from .models import Delivery, DeliveryAttempt


def deliveries_visible_to(api_key: ApiKey) -> QuerySet[Delivery]:
    """Deliveries to the endpoints the key can see (deleted endpoints' logs excluded)."""
    return Delivery.objects.filter(endpoint__in=webhook_endpoints_visible_to(api_key)).select_related("event")


# --- Endpoint health: the stats API, the portal and the console read the same numbers -------------

# An attempt failed when it got no answer, or an answer that was not 2xx.
FAILED_ATTEMPT = Q(error__isnull=False) | Q(status_code__lt=200) | Q(status_code__gte=300)


@dataclass(frozen=True)
class EndpointHealth:
    """An endpoint's deliveries created in [since, until), by status, and its latest outcomes (any time)."""

    pending: int
    succeeded: int
    failed: int
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None

    @property
    def success_rate(self) -> float | None:
        """Succeeded among the settled deliveries of the window; None if none settled."""
        settled = self.succeeded + self.failed
        return round(self.succeeded / settled, 4) if settled else None


def webhook_endpoints_health(endpoint_ids, *, since: datetime, until: datetime) -> dict:
    """{endpoint id: EndpointHealth} for many endpoints at once: two queries, whatever their number."""
    window = Q(deliveries__created_at__gte=since, deliveries__created_at__lt=until)
    counted = WebhookEndpoint.objects.filter(pk__in=endpoint_ids).annotate(
        **{status: Count("deliveries", filter=window & Q(deliveries__status=status)) for status in Delivery.Status.values},
        last_success_at=Subquery(
            Delivery.objects.filter(endpoint=OuterRef("pk"), status=Delivery.Status.SUCCEEDED)
            .order_by("-completed_at").values("completed_at")[:1]
        ),
        last_failed_attempt=Subquery(
            DeliveryAttempt.objects.filter(FAILED_ATTEMPT, delivery__endpoint=OuterRef("pk"), finished_at__isnull=False)
            .order_by("-finished_at").values("pk")[:1]
        ),
    )
    rows = list(counted.values("pk", *Delivery.Status.values, "last_success_at", "last_failed_attempt"))
    failures = DeliveryAttempt.objects.in_bulk([row["last_failed_attempt"] for row in rows if row["last_failed_attempt"]])
    return {row["pk"]: _health(row, failures.get(row["last_failed_attempt"])) for row in rows}


def _health(row: dict, failure: DeliveryAttempt | None) -> EndpointHealth:
    return EndpointHealth(
        pending=row["pending"], succeeded=row["succeeded"], failed=row["failed"],
        last_success_at=row["last_success_at"],
        last_failure_at=failure.finished_at if failure else None,
        last_error=failure.summary if failure else None,
    )


def webhook_endpoint_hourly(endpoint_id, *, since: datetime, until: datetime) -> list[dict]:
    """Settled deliveries created in [since, until) by hour of creation: every hour, empty ones included."""
    return deliveries_hourly(Delivery.objects.filter(endpoint_id=endpoint_id), since=since, until=until)


def deliveries_hourly(deliveries: QuerySet[Delivery], *, since: datetime, until: datetime) -> list[dict]:
    """[{"start", "succeeded", "failed"}]: `deliveries` settled, created in [since, until), by hour, in one query."""
    counted = (
        deliveries.filter(created_at__gte=since, created_at__lt=until)
        .exclude(status=Delivery.Status.PENDING)
        .annotate(hour=TruncHour("created_at"))
        .order_by()
        .values("hour", "status")
        .annotate(count=Count("pk"))
    )
    by_hour = {(row["hour"], row["status"]): row["count"] for row in counted}
    hours = []
    start = since.replace(minute=0, second=0, microsecond=0)
    while start < until:
        hours.append({"start": start, **{status: by_hour.get((start, status), 0) for status in ("succeeded", "failed")}})
        start += timedelta(hours=1)
    return hours


def webhook_endpoint_stats(endpoint_id, *, since: datetime, until: datetime) -> dict:
    """The stats API's answer: the window's counts and success rate, the latest outcomes, hourly buckets."""
    health = webhook_endpoints_health([endpoint_id], since=since, until=until)[endpoint_id]
    return {
        "since": since, "until": until,
        "deliveries": {"pending": health.pending, "succeeded": health.succeeded, "failed": health.failed},
        "success_rate": health.success_rate,
        "last_success_at": health.last_success_at, "last_failure_at": health.last_failure_at,
        "last_error": health.last_error,
        "buckets": webhook_endpoint_hourly(endpoint_id, since=since, until=until),
    }
