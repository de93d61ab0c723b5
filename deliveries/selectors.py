"""Reads of the delivery log."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import TruncHour
from django.utils import timezone

from bookings.models import ApiKey
from webhooks.models import WebhookEndpoint
from webhooks.selectors import webhook_endpoints_visible_to

from .models import Delivery, DeliveryAttempt


def deliveries_visible_to(api_key: ApiKey) -> QuerySet[Delivery]:
    """Deliveries to the endpoints the key can see (deleted endpoints' logs excluded)."""
    return Delivery.objects.filter(endpoint__in=webhook_endpoints_visible_to(api_key)).select_related("event")


# --- Endpoint health: the stats API, the portal and the console read the same numbers -------------

# The window that "health" means unless a caller names another: the stats API's default, and
# what the portal and the console show.
HEALTH_WINDOW = timedelta(hours=24)


def health_window(now: datetime | None = None) -> tuple[datetime, datetime]:
    """(since, until): the HEALTH_WINDOW up to `now` (default: this moment)."""
    until = now or timezone.now()
    return until - HEALTH_WINDOW, until


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
    """{endpoint id: EndpointHealth} for many endpoints at once: three queries, whatever their number."""
    counts = _window_counts(endpoint_ids, since=since, until=until)
    latest = WebhookEndpoint.objects.filter(pk__in=endpoint_ids).annotate(
        last_success_at=Subquery(
            Delivery.objects.filter(endpoint=OuterRef("pk"), status=Delivery.Status.SUCCEEDED)
            .order_by("-completed_at").values("completed_at")[:1]
        ),
        last_failed_attempt=Subquery(
            DeliveryAttempt.objects.filter(FAILED_ATTEMPT, finished_at__isnull=False, delivery__in=Delivery.objects
                                           .filter(endpoint=OuterRef(OuterRef("pk"))).filter(MAY_HAVE_FAILED))
            .order_by("-finished_at").values("pk")[:1]
        ),
    )
    rows = list(latest.values("pk", "last_success_at", "last_failed_attempt"))
    failures = DeliveryAttempt.objects.in_bulk(
        [row["last_failed_attempt"] for row in rows if row["last_failed_attempt"]]
    )
    return {row["pk"]: _health({**counts.get(row["pk"], {}), **row}, failures.get(row["last_failed_attempt"]))
            for row in rows}


# A delivery that succeeded at its only attempt has no failed one: the last failure is looked for
# among the few others, not by probing the attempts of every delivery the endpoint ever had.
MAY_HAVE_FAILED = ~Q(status=Delivery.Status.SUCCEEDED, attempt_count__lte=1)


def _window_counts(endpoint_ids, *, since: datetime, until: datetime) -> dict:
    """{endpoint id: {status: count}} of the deliveries created in [since, until): read from the
    (endpoint, created_at) index, the window's rows only, never the endpoint's whole log."""
    rows = (Delivery.objects.filter(endpoint_id__in=endpoint_ids, created_at__gte=since, created_at__lt=until)
            .order_by().values("endpoint_id", "status").annotate(n=Count("pk")))
    counts: dict = {}
    for row in rows:
        counts.setdefault(row["endpoint_id"], {})[row["status"]] = row["n"]
    return counts


def _health(row: dict, failure: DeliveryAttempt | None) -> EndpointHealth:
    return EndpointHealth(
        pending=row.get("pending", 0), succeeded=row.get("succeeded", 0), failed=row.get("failed", 0),
        last_success_at=row["last_success_at"],
        last_failure_at=failure.finished_at if failure else None,
        last_error=failure.summary if failure else None,
    )


def webhook_endpoint_hourly(endpoint_id, *, since: datetime, until: datetime) -> list[dict]:
    """Settled deliveries created in [since, until) by hour of creation: every hour, empty ones included."""
    return webhook_endpoints_hourly([endpoint_id], since=since, until=until)[endpoint_id]


def webhook_endpoints_hourly(endpoint_ids, *, since: datetime, until: datetime) -> dict:
    """{endpoint id: webhook_endpoint_hourly's list} for many endpoints in one query."""
    counted = _settled_by_hour(Delivery.objects.filter(endpoint_id__in=endpoint_ids), since, until, "endpoint_id")
    by_hour = {(row["endpoint_id"], row["hour"], row["status"]): row["count"] for row in counted}
    return {
        endpoint_id: _every_hour(since, until, lambda hour, status, e=endpoint_id: by_hour.get((e, hour, status), 0))
        for endpoint_id in endpoint_ids
    }


def deliveries_hourly(deliveries: QuerySet[Delivery], *, since: datetime, until: datetime) -> list[dict]:
    """[{"start", "succeeded", "failed"}]: `deliveries` settled, created in [since, until), by hour, in one query."""
    by_hour = {(row["hour"], row["status"]): row["count"] for row in _settled_by_hour(deliveries, since, until)}
    return _every_hour(since, until, lambda hour, status: by_hour.get((hour, status), 0))


def _settled_by_hour(deliveries: QuerySet[Delivery], since: datetime, until: datetime, *group_by: str):
    return (
        deliveries.filter(created_at__gte=since, created_at__lt=until)
        .exclude(status=Delivery.Status.PENDING)
        .annotate(hour=TruncHour("created_at"))
        .order_by()
        .values(*group_by, "hour", "status")
        .annotate(count=Count("pk"))
    )


def _every_hour(since: datetime, until: datetime, count) -> list[dict]:
    """Each hour from since's to until, with count(hour, status) for succeeded and failed."""
    hours = []
    start = since.replace(minute=0, second=0, microsecond=0)
    while start < until:
        hours.append({"start": start, **{status: count(start, status) for status in ("succeeded", "failed")}})
        start += timedelta(hours=1)
    return hours


def deliveries_failed_since(endpoint: WebhookEndpoint, *, since: datetime) -> QuerySet[Delivery]:
    """The failed deliveries to `endpoint` created since `since`: what a recovery redelivers."""
    return Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.FAILED, created_at__gte=since)


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
