"""The catalog of event types an endpoint can subscribe to."""

BOOKING_CREATED = "booking.created"
BOOKING_UPDATED = "booking.updated"
BOOKING_CANCELLED = "booking.cancelled"
BOOKING_COMPLETED = "booking.completed"

# Subscribes to every type, including ones added later.
ALL_EVENTS = "*"

EVENT_TYPES: dict[str, str] = {
    BOOKING_CREATED: "A new booking is confirmed.",
    BOOKING_UPDATED: "A booking is rescheduled (its start or end time changed).",
    BOOKING_CANCELLED: "A booking is cancelled.",
    BOOKING_COMPLETED: "A booking is marked as completed.",
}


def is_subscribed(subscribed: list[str], event_type: str) -> bool:
    return ALL_EVENTS in subscribed or event_type in subscribed
