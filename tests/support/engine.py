"""Driving the delivery engine's parts from a test, one delivery at a time."""

from deliveries.attempts import DeliveryOutcome, attempts_begin, attempts_finish
from deliveries.sender import Sender


def delivery_attempt(delivery_id: str) -> DeliveryOutcome | None:
    """Make the next attempt of one due delivery and wait for its answer, as a worker would;
    None if it is not due or another worker holds it."""
    sender = Sender(threads=1)
    try:
        sendings, refused = attempts_begin(sender=sender, delivery_ids=[delivery_id], limit=1)
        outcomes = refused + attempts_finish(sender.send(sendings))
    finally:
        sender.shutdown()
    return outcomes[0] if outcomes else None
