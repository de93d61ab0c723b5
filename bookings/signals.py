"""Domain signals: what happened to a booking, in the host app's own words.

Each is sent once, from Booking.save(), inside the transaction of the change, with
the keyword argument `booking`. Listeners that must not run for a change that
rolls back should write to the database (which rolls back with it) or defer to
transaction.on_commit.
"""

from django.dispatch import Signal

booking_created = Signal()
booking_rescheduled = Signal()
booking_cancelled = Signal()
booking_completed = Signal()
