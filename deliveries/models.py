"""The delivery log, which is also the outbox.

An Event and its Deliveries are written in the transaction of the booking change
that caused them; Celery only carries the news that a delivery is due. What to
send next is decided from these rows (status, next_attempt_at, claimed_until),
so a lost broker message delays a delivery but never loses it.
"""

import json
import secrets

from django.db import models
from django.db.models import Q

from bookings.models import Business
from webhooks.models import WebhookEndpoint

# Stored response excerpts are capped: enough to debug, not enough to fill the disk.
RESPONSE_BODY_LIMIT = 4096
# An attempt answered with a 2xx (with no error besides, it succeeded).
ANSWERED_2XX = Q(status_code__gte=200, status_code__lt=300)


def new_event_id() -> str:
    return "evt_" + secrets.token_hex(16)


def new_delivery_id() -> str:
    return "dlv_" + secrets.token_hex(16)


class Event(models.Model):
    """Something that happened to a booking, frozen as the exact JSON body we send."""

    id = models.CharField(primary_key=True, max_length=40, default=new_event_id, editable=False)
    type = models.CharField(max_length=100, db_index=True)
    # Empty only for a test event sent to a hub-wide endpoint.
    business = models.ForeignKey(
        Business, null=True, blank=True, on_delete=models.CASCADE, related_name="events"
    )
    # The serialized body, byte for byte what every attempt sends and signs.
    body = models.TextField()
    occurred_at = models.DateTimeField()
    is_test = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["created_at"])]

    def __str__(self) -> str:
        return f"{self.type} {self.id}"

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class DeliveryQuerySet(models.QuerySet):
    def due_unclaimed(self, now, *, due_by=None):
        """Pending deliveries due by `due_by` (default `now`) that no live worker holds."""
        return self.filter(status=Delivery.Status.PENDING, next_attempt_at__lte=due_by or now).filter(
            Q(claimed_until__isnull=True) | Q(claimed_until__lt=now)
        )

    def claimable(self, now, *, skip_endpoints=(), only_endpoints=None):
        """Due, unclaimed deliveries, except to `skip_endpoints` and, if given, only to `only_endpoints`
        (the worker's send slots decide both: deliveries.concurrency.ClaimScope)."""
        due = self.due_unclaimed(now)
        if only_endpoints is not None:
            due = due.filter(endpoint_id__in=only_endpoints)
        return due.exclude(endpoint_id__in=skip_endpoints) if skip_endpoints else due


class Delivery(models.Model):
    """One event to one endpoint, through however many attempts it takes."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        FAILED = "failed"

    id = models.CharField(primary_key=True, max_length=40, default=new_delivery_id, editable=False)
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="deliveries")
    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    # Attempts made before the current series: a redelivery starts a new series of
    # WEBHOOK_MAX_ATTEMPTS while the attempt numbers keep counting up.
    series_start = models.PositiveIntegerField(default=0)
    # When the next attempt is due; empty once the delivery is settled.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # A worker that claims the delivery holds it until then; a dead worker's claim runs out.
    claimed_until = models.DateTimeField(null=True, blank=True)
    # When the sweeper last handed it to Celery again, so a backlog is not re-sent every sweep.
    swept_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = DeliveryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["event", "endpoint"], name="one_delivery_per_event_and_endpoint")
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                name="delivery_due",
                condition=Q(status="pending"),
            ),
            models.Index(fields=["endpoint", "-created_at"], name="delivery_endpoint_log"),
            models.Index(fields=["status", "created_at"], name="delivery_status_age"),
            # An endpoint's last success (its health, and whether it is failing) without sorting its log.
            models.Index(fields=["endpoint", "-completed_at"], name="delivery_last_success",
                         condition=Q(status="succeeded")),
        ]

    def __str__(self) -> str:
        return f"{self.id} ({self.status})"

    @property
    def attempts_in_series(self) -> int:
        return self.attempt_count - self.series_start


class FailedDelivery(Delivery):
    """The failed deliveries, as their own admin page for operators to work from."""

    class Meta:
        proxy = True
        verbose_name = "failed delivery"
        verbose_name_plural = "failed deliveries"


class DeliveryAttempt(models.Model):
    """One HTTP POST of a delivery. Written before the request leaves, completed after."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # A short machine-readable reason (timeout, connection_refused, ...) when the
    # attempt got no acceptable answer; error_detail says more for humans.
    error = models.CharField(max_length=50, null=True, blank=True)
    error_detail = models.CharField(max_length=500, blank=True)
    response_body = models.TextField(blank=True)
    # The headers as sent (signatures included), and as answered (at most 4 KiB in all).
    request_headers = models.JSONField(default=dict, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    # From the claim to the request leaving: a wait for a send thread is never invisible.
    queued_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="Milliseconds from the claim to the request leaving."
    )

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="one_attempt_per_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of {self.delivery_id}"

    @property
    def summary(self) -> str:
        return failure_summary(self.error, self.error_detail, self.status_code)


def failure_summary(error: str | None, error_detail: str, status_code: int | None) -> str:
    """What went wrong with an attempt, in one line: its error and detail, or its HTTP status."""
    if error:
        return f"{error}: {error_detail}"[:500] if error_detail else error
    return f"HTTP {status_code}"
