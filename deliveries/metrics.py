"""Delivery metrics for Prometheus, read from the delivery log at scrape time.

Workers write the log (a Delivery row per event and endpoint, an attempt row per
try), so whichever process answers /metrics reports the work of every worker,
in every container, without a shared multiprocess directory, and a restart
resets nothing. A scrape costs four aggregate queries and loads no rows.
"""

from collections.abc import Iterator
from datetime import datetime

from django.db.models import Count, Min, Q, Sum
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from .models import ANSWERED_2XX, Delivery, DeliveryAttempt

# Upper bounds in seconds. An attempt's deadline is WEBHOOK_TIMEOUT_SECONDS (10 by
# default); only an attempt closed as worker_lost lasts longer, up to its claim.
DURATION_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class DeliveryLogCollector:
    """A prometheus_client collector: register it on a registry, it is read on each scrape."""

    def collect(self) -> Iterator[Metric]:
        now = timezone.now()
        yield _status_gauge(delivery_counts_by_status())
        yield _outcome_counter(attempt_counts_by_outcome())
        yield _duration_histogram(*attempt_duration_buckets())
        yield from _due_unsent_gauges(*deliveries_due_unsent(now), now)


def delivery_counts_by_status() -> dict[str, int]:
    counts = dict.fromkeys(Delivery.Status.values, 0)
    for row in Delivery.objects.order_by().values("status").annotate(total=Count("id")):
        counts[row["status"]] = row["total"]
    return counts


def attempt_counts_by_outcome() -> dict[str, int]:
    """Finished attempts by outcome: succeeded, http_error (a non-2xx answer), or the error code.

    An attempt in flight is counted once it finishes, so each count only grows.
    """
    rows = (
        DeliveryAttempt.objects.filter(finished_at__isnull=False)
        .order_by()
        .values("error")
        .annotate(total=Count("id"), succeeded=Count("id", filter=ANSWERED_2XX))
    )
    counts = {"succeeded": 0, "http_error": 0}
    for row in rows:
        if row["error"]:
            counts[row["error"]] = counts.get(row["error"], 0) + row["total"]
        else:
            counts["succeeded"] += row["succeeded"]
            counts["http_error"] += row["total"] - row["succeeded"]
    return counts


def attempt_duration_buckets() -> tuple[list[tuple[str, int]], float]:
    """Cumulative (le, count) pairs ending with +Inf, and the sum in seconds, in one query."""
    # Each bucket counts the attempts at or under its bound, so the counts come out cumulative.
    per_bound = {
        f"le_{i}": Count("id", filter=Q(duration_ms__lte=round(bound * 1000)))
        for i, bound in enumerate(DURATION_BUCKETS)
    }
    totals = DeliveryAttempt.objects.filter(duration_ms__isnull=False).aggregate(
        count=Count("id"), sum_ms=Sum("duration_ms"), **per_bound
    )
    buckets = [(floatToGoString(bound), totals[f"le_{i}"]) for i, bound in enumerate(DURATION_BUCKETS)]
    buckets.append(("+Inf", totals["count"]))
    return buckets, (totals["sum_ms"] or 0) / 1000


def deliveries_due_unsent(now: datetime) -> tuple[int, datetime | None]:
    """How many pending deliveries are due with no live worker on them, and the earliest due time."""
    totals = Delivery.objects.due_unclaimed(now).aggregate(count=Count("id"), oldest=Min("next_attempt_at"))
    return totals["count"], totals["oldest"]


def _status_gauge(counts: dict[str, int]) -> GaugeMetricFamily:
    # A gauge: a redelivery moves a failed delivery back to pending.
    family = GaugeMetricFamily("calendence_deliveries", "Deliveries by status.", labels=["status"])
    for status, total in counts.items():
        family.add_metric([status], total)
    return family


def _outcome_counter(counts: dict[str, int]) -> CounterMetricFamily:
    family = CounterMetricFamily(
        "calendence_delivery_attempts",
        "Finished delivery attempts by outcome: succeeded, http_error (non-2xx answer) or the error code.",
        labels=["outcome"],
    )
    for outcome, total in sorted(counts.items()):
        family.add_metric([outcome], total)
    return family


def _duration_histogram(buckets: list[tuple[str, int]], sum_seconds: float) -> HistogramMetricFamily:
    return HistogramMetricFamily(
        "calendence_delivery_attempt_duration_seconds",
        "Duration of finished delivery attempts.",
        buckets=buckets,
        sum_value=sum_seconds,
    )


def _due_unsent_gauges(count: int, oldest: datetime | None, now: datetime) -> Iterator[GaugeMetricFamily]:
    yield GaugeMetricFamily(
        "calendence_deliveries_due_unsent",
        "Pending deliveries whose next attempt is due and that no live worker has claimed.",
        value=count,
    )
    age = max((now - oldest).total_seconds(), 0.0) if oldest else 0.0
    yield GaugeMetricFamily(
        "calendence_deliveries_due_unsent_oldest_age_seconds",
        "How long the longest-waiting due, unclaimed delivery has been due (0 when there is none).",
        value=age,
    )
