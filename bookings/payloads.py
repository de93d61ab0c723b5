"""The booking as webhook receivers see it: the documented `data` object."""

from datetime import UTC, datetime

from .models import Booking


def iso_utc(moment: datetime) -> str:
    """UTC, ISO 8601 with an explicit offset: 2026-03-25T14:00:00+00:00."""
    return moment.astimezone(UTC).isoformat()


def booking_payload(booking: Booking) -> dict:
    return {
        "id": str(booking.id),
        "status": booking.status,
        "service": {"id": str(booking.service.id), "name": booking.service.name},
        "client": {
            "first_name": booking.client.first_name,
            "last_name": booking.client.last_name,
            "email": booking.client.email,
        },
        "starts_at": iso_utc(booking.starts_at),
        "ends_at": iso_utc(booking.ends_at),
        "location": {"id": str(booking.location.id), "name": booking.location.name},
    }
