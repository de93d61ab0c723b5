"""Writes of the host app. Each booking change is one Booking.save(), which announces it."""

from datetime import datetime

from django.db import transaction

from .models import Booking, Business, Client, Location, Service


class BookingStateError(Exception):
    """The booking's status does not allow this change (e.g. completing a cancelled booking)."""


def location_create(*, business: Business, name: str) -> Location:
    return Location.objects.create(business=business, name=name)


def service_create(*, business: Business, name: str, duration_minutes: int = 30) -> Service:
    return Service.objects.create(business=business, name=name, duration_minutes=duration_minutes)


def client_upsert(*, business: Business, first_name: str, last_name: str, email: str) -> Client:
    """The business's client with this email, with the names given; created if new.

    INSERT … ON CONFLICT DO UPDATE, then a read: two statements and no savepoint, and
    two bookings of the same new client cannot collide. (bulk_create keeps the id it
    generated rather than the stored one on a conflict, hence the read.)"""
    Client.objects.bulk_create(
        [Client(business=business, email=email, first_name=first_name, last_name=last_name)],
        update_conflicts=True,
        unique_fields=["business", "email"],
        update_fields=["first_name", "last_name"],
    )
    return Client.objects.get(business=business, email=email)


@transaction.atomic
def booking_create(
    *,
    business: Business,
    service: Service,
    location: Location,
    client: dict,
    starts_at: datetime,
    ends_at: datetime,
) -> Booking:
    booking = Booking(business=business, service=service, location=location, starts_at=starts_at, ends_at=ends_at)
    if booking.parts_of_other_businesses():
        raise ValueError("The service and the location must belong to the booking's business.")
    booking.client = client_upsert(business=business, **client)
    booking.save()
    return booking


@transaction.atomic
def booking_reschedule(*, booking: Booking, starts_at: datetime, ends_at: datetime) -> Booking:
    booking = _lock_confirmed(booking, "reschedule")
    booking.starts_at, booking.ends_at = starts_at, ends_at
    booking.save()
    return booking


def booking_cancel(*, booking: Booking) -> Booking:
    return _transition(booking, Booking.Status.CANCELLED, "cancel")


def booking_complete(*, booking: Booking) -> Booking:
    return _transition(booking, Booking.Status.COMPLETED, "complete")


@transaction.atomic
def _transition(booking: Booking, status: str, verb: str) -> Booking:
    booking = _lock_confirmed(booking, verb)
    booking.status = status
    booking.save()
    return booking


def _lock_confirmed(booking: Booking, verb: str) -> Booking:
    """The booking re-read under a row lock, so two concurrent changes cannot both emit."""
    locked = Booking.objects.select_for_update().get(pk=booking.pk)
    if locked.status != Booking.Status.CONFIRMED:
        raise BookingStateError(f"Cannot {verb} a booking that is {locked.status}.")
    return locked
