import pytest

from deliveries.models import Delivery


@pytest.fixture
def deliveries_to(tenant, make_booking, make_endpoint, django_capture_on_commit_callbacks):
    """`bookings` booking.created events, each delivered to every receiver given (no Celery message sent)."""

    def make(*receivers, bookings: int = 1) -> dict:
        endpoints = {make_endpoint(tenant, receiver).id: receiver for receiver in receivers}
        with django_capture_on_commit_callbacks(execute=False):
            for number in range(bookings):
                make_booking(tenant, email=f"client{number}@example.com")
        return {endpoint_id: list(Delivery.objects.filter(endpoint_id=endpoint_id)) for endpoint_id in endpoints}

    return make
