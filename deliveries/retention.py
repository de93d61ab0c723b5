"""Retention: the delivery log keeps WEBHOOK_LOG_RETENTION_DAYS of history.

Rows go in small batches, each its own short transaction, so the purge never holds
locks that would stall the workers writing new attempts.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from .models import Delivery, DeliveryAttempt, Event

PURGE_BATCH_SIZE = 1000


def retention_cutoff() -> datetime:
    return timezone.now() - timedelta(days=settings.WEBHOOK_LOG_RETENTION_DAYS)


def delivery_log_purge(*, older_than: datetime, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Delete settled deliveries created before `older_than` with their attempts, then the
    events left without deliveries. Pending deliveries stay: they are still owed. Returns
    how many deliveries went."""
    purged = 0
    old_settled = Delivery.objects.filter(created_at__lt=older_than).exclude(status=Delivery.Status.PENDING)
    while ids := list(old_settled.values_list("id", flat=True)[:batch_size]):
        DeliveryAttempt.objects.filter(delivery_id__in=ids).delete()
        Delivery.objects.filter(id__in=ids).delete()
        purged += len(ids)
    orphans = Event.objects.filter(created_at__lt=older_than, deliveries__isnull=True)
    while ids := list(orphans.values_list("id", flat=True)[:batch_size]):
        Event.objects.filter(id__in=ids).delete()
    return purged
