"""Adapters from the host app's booking signals to event_publish. One call each, nothing else."""

from django.dispatch import receiver

from bookings import signals
from bookings.payloads import booking_payload
from webhooks import event_types

from .services import event_publish

EVENT_TYPE_OF_SIGNAL = {
    signals.booking_created: event_types.BOOKING_CREATED,
    signals.booking_rescheduled: event_types.BOOKING_UPDATED,
    signals.booking_cancelled: event_types.BOOKING_CANCELLED,
    signals.booking_completed: event_types.BOOKING_COMPLETED,
}


@receiver(list(EVENT_TYPE_OF_SIGNAL), dispatch_uid="deliveries.publish_booking_event")
def publish_booking_event(sender, booking, signal, **kwargs):
    event_publish(
        business=booking.business,
        event_type=EVENT_TYPE_OF_SIGNAL[signal],
        data=booking_payload(booking),
    )
