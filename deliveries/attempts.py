"""Attempts, a batch at a time: claim due deliveries, record an attempt of each, send, settle.

The claim is one short transaction. It locks the due, unclaimed candidates (SELECT …
FOR UPDATE SKIP LOCKED, so concurrent workers take different rows), marks them
claimed until one attempt's deadline plus a margin, and writes their attempt rows,
all before anything is sent. So two workers, two copies of a message, or a worker
and the sweeper never send the same attempt, and a crash mid-request still leaves
a row. If the worker dies, its claim runs out, and whoever claims the delivery next
closes the attempt it left open as `worker_lost`.

Settling is guarded the same way: a worker writes an attempt's result only while its
claim on the delivery still stands, so a worker that outlived its claim writes nothing.
A batch is logged in one transaction; if a row of it cannot be stored, each attempt is
logged on its own instead, so one receiver's answer never costs another delivery its log.

The statements every pass makes on the deliveries' rows are in deliveries.outbox.
"""

import dataclasses
import logging
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, transaction
from django.utils import timezone

from calendence.errors import DATABASE_UNREACHABLE

from . import outbox, transport
from .bulk import bulk_insert_rows, bulk_update_rows
from .concurrency import Slot
from .endpoint_health import GONE_STATUS, endpoints_health_record
from .models import Delivery, DeliveryAttempt, failure_summary
from .sender import Sender
from .sending import Finished, Sending
from .signing import calendence_signature, standard_webhooks_signature

logger = logging.getLogger(__name__)

# At most this much random delay is added to each backoff, as a share of it.
RETRY_JITTER = 0.1


@dataclass(frozen=True)
class DeliveryOutcome:
    """What an attempt (or a refusal to make one) left the delivery as: its status, and
    when its next attempt is due, if any. The receiver's answer is a transport.AttemptResult."""

    delivery_id: str
    status: str
    retry_at: datetime | None


def retry_delay(attempt_in_series: int) -> float:
    """Seconds to wait after failed attempt n: base * 2**(n-1), plus a random jitter of up to 10 %."""
    delay = settings.WEBHOOK_RETRY_BASE_SECONDS * 2 ** (attempt_in_series - 1)
    return delay * (1 + random.uniform(0, RETRY_JITTER))


def claim_expiry(now: datetime) -> datetime:
    return now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + settings.WEBHOOK_CLAIM_MARGIN_SECONDS)


def attempts_begin(
    *, sender: Sender, limit: int, delivery_ids: list[str] | None = None
) -> tuple[list[Sending], list[DeliveryOutcome]]:
    """Claim up to `limit` due deliveries (among `delivery_ids`, if given; the longest due
    first) and record an attempt of each. Returns the attempts to send, each holding a send
    slot, and the outcomes of deliveries failed without an attempt."""
    scope = sender.claim_scope()
    limit = min(limit, scope.room)
    if limit <= 0:
        return [], []  # no slot is free: nothing to claim
    taken: list[Slot] = []
    try:
        with transaction.atomic():
            now = timezone.now()
            candidates = outbox.lock_due(now, scope, limit, delivery_ids)
            close_interrupted_attempts(candidates, now)
            refused, sendable = [], []
            for delivery in candidates:
                if refusal := _refusal(delivery):
                    refused.append((delivery, refusal))
                    _refuse(delivery, refusal, now)
                elif slot := sender.take_slot(delivery.endpoint_id):
                    taken.append(slot)
                    sendable.append((delivery, slot))
            sendings = _attempts_open(sendable, now)
    except BaseException:
        sender.give_back(taken)
        raise
    for delivery, refusal in refused:
        log_failed_for_good(delivery, refusal)
    return sendings, [DeliveryOutcome(delivery.pk, Delivery.Status.FAILED, None) for delivery, _refusal in refused]


def log_failed_for_good(delivery: Delivery, error: str) -> None:
    """One line per delivery that will not be attempted again, once that is committed."""
    event, endpoint = delivery.event, delivery.endpoint
    logger.warning(
        "Delivery %s failed for good (attempts: %d): event %s (%s) of business %s to endpoint %s (%s); "
        "last error: %s",
        delivery.pk, delivery.attempt_count, event.pk, event.type, event.business_id or "none (a hub test event)",
        endpoint.pk, endpoint.url, error,
    )


def attempts_finish(finished: list[Finished]) -> list[DeliveryOutcome]:
    """Log the answers and settle each delivery: done, failed, or its next attempt scheduled.
    A database that cannot be reached raises (the caller keeps the answers to log later)."""
    if not finished:
        return []
    try:
        return _log(finished)
    except DATABASE_UNREACHABLE:
        raise  # the caller keeps the answers for the database's return
    except (DatabaseError, ValueError):
        logger.exception("A batch of %d attempts could not be logged together; logging each alone.", len(finished))
    return [outcome for answer in finished for outcome in _log_alone(answer)]


def _log_alone(answer: Finished) -> list[DeliveryOutcome]:
    """One attempt; without the receiver's text if the database refuses it; not at all (its
    claim runs out, and it is closed as worker_lost) if even that fails."""
    sending, result = answer
    for attempt_result in (result, _without_receiver_text(result)):
        try:
            return _log([(sending, attempt_result)])
        except DATABASE_UNREACHABLE:
            raise
        except (DatabaseError, ValueError):
            logger.exception(
                "Attempt %s of delivery %s could not be logged.", sending.attempt.number, sending.delivery.pk
            )
    return []


def _claim_of(sending: Sending) -> tuple[str, datetime]:
    return sending.delivery.pk, sending.delivery.claimed_until


def _without_receiver_text(result: transport.AttemptResult) -> transport.AttemptResult:
    return dataclasses.replace(
        result, response_body="", response_headers={},
        error_detail="The receiver's answer could not be stored." if result.error else "",
    )


def _log(finished: list[Finished]) -> list[DeliveryOutcome]:
    with transaction.atomic():
        now = timezone.now()
        held = _still_held(finished)
        for sending, _result in finished:
            if _claim_of(sending) not in held:
                logger.warning("Attempt %s of delivery %s no longer holds its claim (logged already, or taken over "
                               "by another worker); not logging it here.", sending.attempt.number, sending.delivery.pk)
        finished = [(sending, result) for sending, result in finished if _claim_of(sending) in held]
        _attempts_close(finished, now)
        outcomes = _settle(finished, now)
        # In the same transaction: an outage that fails it leaves nothing half done to redo.
        endpoints_health_record(
            (sending.delivery.endpoint, result.status_code, outcome.status == Delivery.Status.FAILED)
            for (sending, result), outcome in zip(finished, outcomes, strict=True)
            if not result.succeeded
        )
    for (sending, result), outcome in zip(finished, outcomes, strict=True):
        if outcome.status == Delivery.Status.FAILED:
            log_failed_for_good(sending.delivery, _summary(result))
    return outcomes


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


def close_interrupted_attempts(deliveries: list[Delivery], now: datetime) -> int:
    """Attempts a dead worker left open: they count, and they failed."""
    # attempt_count is raised before an attempt row exists: a first attempt has none open.
    retried = [delivery.pk for delivery in deliveries if delivery.attempt_count > 0]
    if not retried:
        return 0
    open_attempts = list(DeliveryAttempt.objects.filter(delivery_id__in=retried, finished_at__isnull=True))
    for attempt in open_attempts:
        attempt.finished_at = now
        attempt.duration_ms = int((now - attempt.started_at).total_seconds() * 1000)
        attempt.error = "worker_lost"
        attempt.error_detail = "The worker making this attempt stopped before it finished."
    bulk_update_rows(open_attempts, ["finished_at", "duration_ms", "error", "error_detail"])
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


def _refuse(delivery: Delivery, reason: str, now: datetime) -> None:
    """Fail a delivery this transaction holds locked, without an attempt."""
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.FAILED, next_attempt_at=None, completed_at=now, claimed_until=None,
        last_error=reason, updated_at=now,
    )


def _attempts_open(sendable: list[tuple[Delivery, Slot]], now: datetime) -> list[Sending]:
    """Claim the deliveries and write their attempt rows, headers as sent, before anything is sent."""
    if not sendable:
        return []
    claimed_until = claim_expiry(now)
    outbox.mark_claimed([delivery.pk for delivery, _slot in sendable], claimed_until, now)
    sendings = []
    for delivery, slot in sendable:
        delivery.claimed_until = claimed_until
        delivery.attempt_count += 1
        body = delivery.event.body.encode("utf-8")
        headers = delivery_headers(delivery, delivery.attempt_count, body)
        attempt = DeliveryAttempt(
            delivery=delivery, number=delivery.attempt_count, started_at=now,
            request_headers=transport.request_headers(delivery.endpoint.url, body, headers),
        )
        sendings.append(Sending(delivery, attempt, body, slot))
    bulk_insert_rows([sending.attempt for sending in sendings])
    return sendings


def _still_held(finished: list[Finished]) -> set[tuple[str, datetime]]:
    """(delivery, claim) of the answers whose claim still stands, the rows locked. By claim, not
    only by delivery: an answer kept through a long outage may meet a newer claim's answer."""
    return outbox.lock_claims({sending.delivery.pk for sending, _result in finished})


def _attempts_close(finished: list[Finished], now: datetime) -> None:
    attempts = []
    for sending, result in finished:
        attempt = sending.attempt
        attempt.finished_at = result.answered_at or now
        attempt.duration_ms = result.duration_ms
        attempt.status_code = result.status_code
        attempt.error = result.error
        attempt.error_detail = result.error_detail
        attempt.response_body = result.response_body
        attempt.response_headers = result.response_headers
        attempt.queued_ms = result.queued_ms
        attempts.append(attempt)
    bulk_update_rows(attempts, [
        "finished_at", "duration_ms", "status_code", "error", "error_detail", "response_body",
        "response_headers", "queued_ms",
    ])


def _summary(result: transport.AttemptResult) -> str:
    return "" if result.succeeded else failure_summary(result.error, result.error_detail, result.status_code)


def _settle(finished: list[Finished], now: datetime) -> list[DeliveryOutcome]:
    """Close each delivery, or schedule its next attempt (in the row, not only in the broker).

    A failed attempt is retried after the backoff, or later if the receiver asked
    (Retry-After, capped at WEBHOOK_RETRY_AFTER_CAP_SECONDS). Successes, the common
    case, are settled together in one statement. Each failure draws its own jitter, so
    one endpoint's failed attempts do not all come back at the same instant.
    """
    outbox.mark_succeeded([sending.delivery.pk for sending, result in finished if result.succeeded], now)
    outcomes = []
    for sending, result in finished:
        if result.succeeded:
            outcomes.append(DeliveryOutcome(sending.delivery.pk, Delivery.Status.SUCCEEDED, None))
        else:
            outcomes.append(_settle_failure(sending.delivery, result, now))
    return outcomes


def _settle_failure(delivery: Delivery, result: transport.AttemptResult, now: datetime) -> DeliveryOutcome:
    changes = {"claimed_until": None, "last_error": _summary(result), "updated_at": now}
    final = (
        result.status_code == GONE_STATUS  # retrying a gone endpoint is pointless
        or delivery.attempts_in_series >= settings.WEBHOOK_MAX_ATTEMPTS
    )
    if final:
        status = Delivery.Status.FAILED
        changes.update(status=status, next_attempt_at=None, completed_at=now)
    else:
        status = Delivery.Status.PENDING
        requested = min(result.retry_after or 0, settings.WEBHOOK_RETRY_AFTER_CAP_SECONDS)
        delay = max(retry_delay(delivery.attempts_in_series), requested)
        changes["next_attempt_at"] = now + timedelta(seconds=delay)
    Delivery.objects.filter(pk=delivery.pk).update(**changes)
    return DeliveryOutcome(delivery.pk, status, changes.get("next_attempt_at"))
