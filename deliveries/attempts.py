"""One attempt of one delivery: claim it, record it, send it, settle it.

The claim is a conditional UPDATE on the delivery row (due, pending, and not
claimed by a live worker), so two workers, two copies of a message, or a worker
and the sweeper can never send the same attempt at once. The claim expires
after one attempt's deadline plus a margin: if the worker dies, the delivery
becomes claimable again and the attempt it left open is closed as `worker_lost`.
"""

import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from . import transport
from .endpoint_health import GONE_STATUS, endpoint_health_record
from .models import Delivery, DeliveryAttempt
from .signing import calendence_signature, standard_webhooks_signature

logger = logging.getLogger(__name__)

# At most this much random delay is added to each backoff, as a share of it.
RETRY_JITTER = 0.1


@dataclass(frozen=True)
class AttemptOutcome:
    delivery_id: str
    status: str
    retry_at: datetime | None


def retry_delay(attempt_in_series: int) -> float:
    """Seconds to wait after failed attempt n: base * 2**(n-1), plus up to 10 % jitter."""
    delay = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt_in_series - 1)
    return delay * (1 + random.uniform(0, RETRY_JITTER))


def delivery_claim(delivery_id: str) -> Delivery | None:
    """The delivery, now claimed by this worker, if it is due and nobody else holds it."""
    now = timezone.now()
    claim_until = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + settings.WEBHOOK_CLAIM_MARGIN_SECONDS)
    claimed = Delivery.objects.due_unclaimed(now).filter(pk=delivery_id).update(claimed_until=claim_until)
    if not claimed:
        return None
    return Delivery.objects.select_related("event", "endpoint").get(pk=delivery_id)


def delivery_attempt(delivery_id: str) -> AttemptOutcome | None:
    """Make the next attempt of a due delivery; None if it is not due or another worker has it."""
    delivery = delivery_claim(delivery_id)
    if delivery is None:
        return None
    close_interrupted_attempts(delivery)
    refusal = _refusal(delivery)
    if refusal is not None:
        return _settle(delivery, succeeded=False, error=refusal, final=True)
    attempt = _attempt_open(delivery)
    body = delivery.event.body.encode("utf-8")
    result = transport.post(
        delivery.endpoint.url,
        body,
        delivery_headers(delivery, attempt.number, body),
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        allow_private=settings.WEBHOOK_ALLOW_PRIVATE_URLS,
    )
    _attempt_close(attempt, result)
    final = (
        result.succeeded
        or result.status_code == GONE_STATUS  # retrying a gone endpoint is pointless
        or delivery.attempts_in_series >= settings.WEBHOOK_MAX_ATTEMPTS
    )
    outcome = _settle(
        delivery, succeeded=result.succeeded, error=_summary(result), final=final, wait_at_least=result.retry_after
    )
    endpoint_health_record(
        endpoint=delivery.endpoint,
        status_code=result.status_code,
        delivery_failed=outcome is not None and outcome.status == Delivery.Status.FAILED,
    )
    return outcome


def delivery_headers(delivery: Delivery, attempt_number: int, body: bytes) -> dict[str, str]:
    """Every header of one attempt. During a rotation's grace period both secrets sign."""
    event = delivery.event
    current, *previous = delivery.endpoint.signing_secrets(timezone.now())
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": settings.WEBHOOK_USER_AGENT,
        "X-Calendence-Signature": calendence_signature(current, body),
        "X-Calendence-Event": event.type,
        "X-Calendence-Event-Id": event.id,
        "X-Calendence-Delivery-Id": delivery.id,
        "X-Calendence-Attempt": str(attempt_number),
        "webhook-id": event.id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(
            standard_webhooks_signature(secret, event.id, timestamp, body) for secret in [current, *previous]
        ),
    }
    if previous:
        headers["X-Calendence-Signature-Previous"] = calendence_signature(previous[0], body)
    return headers


def close_interrupted_attempts(delivery: Delivery) -> int:
    """Attempts a dead worker left open: they count, and they failed."""
    if delivery.attempt_count == 0:
        return 0  # attempt_count is raised before an attempt row exists: none can be open
    now = timezone.now()
    open_attempts = list(delivery.attempts.filter(finished_at__isnull=True))
    for attempt in open_attempts:
        attempt.finished_at = now
        attempt.duration_ms = int((now - attempt.started_at).total_seconds() * 1000)
        attempt.error = "worker_lost"
        attempt.error_detail = "The worker making this attempt stopped before it finished."
        attempt.save(update_fields=["finished_at", "duration_ms", "error", "error_detail"])
    return len(open_attempts)


def _refusal(delivery: Delivery) -> str | None:
    """Why this delivery must not be sent at all, or None."""
    endpoint = delivery.endpoint
    if endpoint.is_deleted:
        return "endpoint_deleted: the webhook was deleted"
    if not endpoint.is_active:
        return "endpoint_disabled: the webhook is disabled"
    if delivery.attempts_in_series >= settings.WEBHOOK_MAX_ATTEMPTS:
        return "max_attempts: every attempt of this series was used (the last one was interrupted)"
    return None


def _attempt_open(delivery: Delivery) -> DeliveryAttempt:
    """Record the attempt before it is sent: a crash mid-request still leaves a row."""
    delivery.attempt_count += 1
    delivery.save(update_fields=["attempt_count", "updated_at"])
    return DeliveryAttempt.objects.create(
        delivery=delivery, number=delivery.attempt_count, started_at=timezone.now()
    )


def _attempt_close(attempt: DeliveryAttempt, result: transport.AttemptResult) -> None:
    attempt.finished_at = timezone.now()
    attempt.duration_ms = result.duration_ms
    attempt.status_code = result.status_code
    attempt.error = result.error
    attempt.error_detail = result.error_detail
    attempt.response_body = result.response_body
    attempt.save()


def _summary(result: transport.AttemptResult) -> str:
    if result.error:
        return f"{result.error}: {result.error_detail}"[:500]
    return "" if result.succeeded else f"HTTP {result.status_code}"


def _settle(
    delivery: Delivery, *, succeeded: bool, error: str, final: bool, wait_at_least: float | None = None
) -> AttemptOutcome | None:
    """Close the delivery, or schedule its next attempt (in the row, not only in the broker).

    The next attempt waits the backoff, or longer if the receiver asked (Retry-After,
    capped at WEBHOOK_RETRY_AFTER_CAP_SECONDS).

    Only while this worker's claim still stands: if it ran out and another worker took
    the delivery over, that worker's record wins and this one writes nothing.
    """
    now = timezone.now()
    changes = {"claimed_until": None, "last_error": error, "updated_at": now}
    if final:
        status = Delivery.Status.SUCCEEDED if succeeded else Delivery.Status.FAILED
        changes.update(status=status, next_attempt_at=None, completed_at=now)
    else:
        status = Delivery.Status.PENDING
        requested = min(wait_at_least or 0, settings.WEBHOOK_RETRY_AFTER_CAP_SECONDS)
        delay = max(retry_delay(delivery.attempts_in_series), requested)
        changes["next_attempt_at"] = now + timedelta(seconds=delay)
    settled = Delivery.objects.filter(pk=delivery.pk, claimed_until=delivery.claimed_until).update(**changes)
    if not settled:
        logger.warning("Delivery %s was taken over by another worker; not settling it here.", delivery.pk)
        return None
    return AttemptOutcome(delivery.id, status, changes["next_attempt_at"])
