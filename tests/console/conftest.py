"""An operator's console, and the scene of its question: Acme Wash's webhook answers 500."""

import pytest
from django.contrib.admin.utils import quote
from django.urls import reverse

from deliveries.models import Delivery
from tests.support.engine import delivery_attempt
from tests.support.receiver import Answer


def change_url(obj) -> str:
    return reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[quote(obj.pk)])


@pytest.fixture
def deliver(make_booking, django_capture_on_commit_callbacks):
    """A booking of the tenant, and one attempt of each delivery it made (no Celery); the deliveries."""

    def make(tenant, email: str = "jane@example.com") -> list[Delivery]:
        with django_capture_on_commit_callbacks(execute=False):
            booking = make_booking(tenant, email=email)
        deliveries = list(Delivery.objects.filter(event__body__contains=str(booking.pk)))
        for delivery in deliveries:
            delivery_attempt(delivery.id)
        return [Delivery.objects.get(pk=delivery.pk) for delivery in deliveries]

    return make


@pytest.fixture
def failing(tenant, make_endpoint, make_receiver, deliver, settings):
    """Acme Wash's endpoint answers 500; one delivery to it has failed for good."""
    settings.WEBHOOK_MAX_ATTEMPTS = 1
    receiver = make_receiver(Answer(status=500, body=b'{"error": "<boom> & down"}'))
    make_endpoint(tenant, receiver)
    [delivery] = deliver(tenant)
    assert delivery.status == Delivery.Status.FAILED
    return delivery
