"""What the end-to-end tests do through the API, as an integrator would."""

STARTS_AT = "2026-12-01T14:00:00+00:00"
ENDS_AT = "2026-12-01T14:30:00+00:00"


def create_booking(tenant, starts_at: str = STARTS_AT, ends_at: str = ENDS_AT) -> dict:
    """A location, a service, and a booking of them; returns the booking as the API shows it."""
    location = tenant.client.post("/api/v1/locations", {"name": "Main Shop"}, format="json").json()
    service = tenant.client.post("/api/v1/services", {"name": "Express Wash"}, format="json").json()
    body = {
        "service_id": service["id"],
        "location_id": location["id"],
        "client": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        "starts_at": starts_at,
        "ends_at": ends_at,
    }
    response = tenant.client.post("/api/v1/bookings", body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def register_webhook(tenant, url: str, events=("booking.created",)) -> dict:
    response = tenant.client.post("/api/v1/webhooks", {"url": url, "events": list(events)}, format="json")
    assert response.status_code == 201, response.content
    return response.json()


def deliveries_of(tenant, webhook: dict) -> list[dict]:
    response = tenant.client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries")
    assert response.status_code == 200
    return response.json()["results"]
