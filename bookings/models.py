"""The host app: tenants (hubs and businesses), their API keys, and bookings.

Nothing here knows about webhooks. A booking announces what happened to it with
the domain signals in bookings/signals.py, sent from save() inside the same
transaction as the change, so every path (API, admin, ORM) announces the same.
"""

import uuid

from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from model_utils import FieldTracker

from . import signals
from .api_key_cache import api_key_cache_drop


class Hub(models.Model):
    """A group of businesses managed together (a franchise, an agency)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class BusinessQuerySet(models.QuerySet):
    def update(self, **kwargs):
        # update() sends no signals: it drops its businesses' cached API keys itself, as
        # bookings/receivers.py does for save() (their plan and hub decide what a key may do).
        digests = list(ApiKey.objects.filter(business__in=self.values("pk")).values_list("key_hash", flat=True))
        updated = super().update(**kwargs)
        api_key_cache_drop(digests)
        return updated


class Business(models.Model):
    class Plan(models.TextChoices):
        STARTER = "starter"
        GROWTH = "growth"
        GROWTH_PRO = "growth_pro"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=200)
    plan = models.CharField(max_length=20, choices=Plan.choices, default=Plan.GROWTH_PRO)
    hub = models.ForeignKey(
        Hub, null=True, blank=True, on_delete=models.SET_NULL, related_name="businesses"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = BusinessQuerySet.as_manager()

    class Meta:
        verbose_name_plural = "businesses"

    def __str__(self) -> str:
        return self.name

    @property
    def has_webhooks(self) -> bool:
        return self.plan == self.Plan.GROWTH_PRO


class ApiKeyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        # update() sends no signals: it drops the keys' cached entries itself, as
        # bookings/receivers.py does for save(). Not for last_used_at alone, which the
        # entries' lifetime allows for (bookings/api_keys.py).
        if kwargs.keys() == {"last_used_at"}:
            return super().update(**kwargs)
        digests = list(self.values_list("key_hash", flat=True))
        updated = super().update(**kwargs)
        api_key_cache_drop(digests)
        return updated


class ApiKey(models.Model):
    """A bearer key for one business or one hub. Only its SHA-256 hash is stored."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100, blank=True)
    business = models.ForeignKey(
        Business, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    hub = models.ForeignKey(
        Hub, null=True, blank=True, on_delete=models.CASCADE, related_name="api_keys"
    )
    prefix = models.CharField(max_length=16, help_text="The start of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    objects = ApiKeyQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="api_key_has_exactly_one_owner",
                condition=(
                    Q(business__isnull=False, hub__isnull=True)
                    | Q(business__isnull=True, hub__isnull=False)
                ),
            )
        ]

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name or 'unnamed'})"

    # DRF treats the authenticated key as the request's user.
    is_authenticated = True

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


class BusinessOwned(models.Model):
    """What a business keeps: its locations, services and clients (`business.locations`, …)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="%(class)ss")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Location(BusinessOwned):
    name = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.name


class Service(BusinessOwned):
    name = models.CharField(max_length=200)
    duration_minutes = models.PositiveIntegerField(default=30)

    def __str__(self) -> str:
        return self.name


class Client(BusinessOwned):
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    email = models.EmailField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta(BusinessOwned.Meta):
        constraints = [
            models.UniqueConstraint(fields=["business", "email"], name="one_client_per_email_per_business")
        ]

    def __str__(self) -> str:
        return f"{self.first_name} {self.last_name}"


class Booking(models.Model):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed"
        CANCELLED = "cancelled"
        COMPLETED = "completed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    business = models.ForeignKey(
        Business, on_delete=models.CASCADE, related_name="bookings", db_index=False  # led by booking_list
    )
    service = models.ForeignKey(Service, on_delete=models.PROTECT, related_name="bookings")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="bookings")
    client = models.ForeignKey(Client, on_delete=models.PROTECT, related_name="bookings")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CONFIRMED)
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    # What the booking was when loaded or last saved: a save compares against it to know
    # which event (if any) it amounts to.
    tracker = FieldTracker(fields=["status", "starts_at", "ends_at"])

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                name="booking_ends_after_it_starts", condition=Q(ends_at__gt=models.F("starts_at"))
            )
        ]
        # A business's list, newest first (the API's cursor order), one page at a time.
        indexes = [models.Index(fields=["business", "-created_at", "-id"], name="booking_list")]

    def __str__(self) -> str:
        return f"{self.service} for {self.client} at {self.starts_at:%Y-%m-%d %H:%M}"

    def clean(self):
        """Model forms (the admin's) check that the booking's parts are its business's own."""
        errors = {name: "This belongs to another business." for name in self.parts_of_other_businesses()}
        if errors:
            raise ValidationError(errors)

    def parts_of_other_businesses(self) -> list[str]:
        """Which of service, location and client (those set) belong to another business."""
        if self.business_id is None:
            return []
        return [
            name
            for name in ("service", "location", "client")
            if getattr(self, f"{name}_id") is not None and getattr(self, name).business_id != self.business_id
        ]

    def save(self, *args, **kwargs):
        # The booking row and whatever listeners record for it (the webhook
        # outbox) commit together or not at all. Inside a caller's transaction no
        # savepoint is needed (a failure here fails the caller's as well), which
        # saves two round trips per booking change.
        with transaction.atomic(using=kwargs.get("using"), savepoint=False):
            change_signal = self._lifecycle_signal()
            super().save(*args, **kwargs)
            if change_signal is not None:
                change_signal.send(sender=Booking, booking=self)

    def _lifecycle_signal(self):
        """The domain signal this save amounts to, or None for a quiet edit."""
        if self._state.adding:
            return signals.booking_created
        if self.tracker.has_changed("status"):
            return {
                self.Status.CANCELLED: signals.booking_cancelled,
                self.Status.COMPLETED: signals.booking_completed,
            }.get(self.status)
        if self.tracker.has_changed("starts_at") or self.tracker.has_changed("ends_at"):
            return signals.booking_rescheduled
        return None
