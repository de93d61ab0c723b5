"""The host app's services where the API tests do not reach: the client upsert."""

from bookings.models import Client
from bookings.services import client_upsert


def test_a_known_email_returns_the_stored_client_with_the_new_names(make_business):
    business = make_business().business
    first = client_upsert(business=business, first_name="Jane", last_name="Doe", email="jane@example.com")

    again = client_upsert(business=business, first_name="Janet", last_name="Dough", email="jane@example.com")

    stored = Client.objects.get()
    assert again.pk == first.pk == stored.pk
    assert (again.first_name, again.last_name, again.created_at) == ("Janet", "Dough", stored.created_at)
    assert (stored.first_name, stored.last_name) == ("Janet", "Dough")


def test_the_same_email_at_another_business_is_another_client(make_business):
    acme, other = make_business("Acme Wash").business, make_business("Other Wash").business
    at_acme = client_upsert(business=acme, first_name="Jane", last_name="Doe", email="jane@example.com")

    at_other = client_upsert(business=other, first_name="Jane", last_name="Doe", email="jane@example.com")

    assert at_acme.pk != at_other.pk and Client.objects.count() == 2
