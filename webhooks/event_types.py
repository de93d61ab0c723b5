"""The catalog of event types: names, descriptions, the JSON Schema of each body, and an example."""

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

# The booking's status right after each event.
STATUS_AFTER = {
    BOOKING_CREATED: ["confirmed"],
    BOOKING_UPDATED: ["confirmed"],
    BOOKING_CANCELLED: ["cancelled"],
    BOOKING_COMPLETED: ["completed"],
}

_UUID = {"type": "string", "format": "uuid"}
_TIME = {"type": "string", "format": "date-time", "pattern": r"\+00:00$"}


def _object(properties: dict, **extra) -> dict:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
        **extra,
    }


def _named(**extra) -> dict:
    return _object({"id": _UUID, "name": {"type": "string"}}, **extra)


def booking_schema(statuses: list[str]) -> dict:
    return _object(
        {
            "id": _UUID,
            "status": {"type": "string", "enum": statuses},
            "service": _named(),
            "client": _object(
                {
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"},
                    "email": {"type": "string", "format": "email"},
                }
            ),
            "starts_at": _TIME,
            "ends_at": _TIME,
            "location": _named(),
        }
    )


def event_schema(event_type: str) -> dict:
    """JSON Schema (2020-12) of the body delivered for `event_type`."""
    schema = _object(
        {
            "id": {"type": "string", "pattern": "^evt_[0-9a-f]+$"},
            "event": {"const": event_type},
            "timestamp": _TIME,
            "data": booking_schema(STATUS_AFTER[event_type]),
        },
        title=event_type,
        description=EVENT_TYPES[event_type],
    )
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["properties"]["test"] = {"const": True, "description": "Present only on test events."}
    return schema


def example_data(event_type: str) -> dict:
    return {
        "id": "0b6f3c1e-5d4a-4e0f-9a51-2f1c8e7d9b30",
        "status": STATUS_AFTER[event_type][0],
        "service": {"id": "6d1f0a52-8c3e-4b7a-a0d2-95e4c1b7f823", "name": "Express Wash"},
        "client": {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"},
        "starts_at": "2026-03-25T14:00:00+00:00",
        "ends_at": "2026-03-25T14:30:00+00:00",
        "location": {"id": "c3a9e8b1-7f24-4d6e-b5a0-1e8d2f4c6a97", "name": "Main Shop"},
    }


def example_body(event_type: str) -> dict:
    return {
        "id": "evt_4f1d2c3b5a6978e0d1c2b3a495867f70",
        "event": event_type,
        "timestamp": "2026-03-24T14:30:00+00:00",
        "data": example_data(event_type),
    }


def catalog() -> list[dict]:
    return [
        {"name": name, "description": description, "schema": event_schema(name), "example": example_body(name)}
        for name, description in EVENT_TYPES.items()
    ]


def is_subscribed(subscribed: list[str], event_type: str) -> bool:
    return ALL_EVENTS in subscribed or event_type in subscribed
