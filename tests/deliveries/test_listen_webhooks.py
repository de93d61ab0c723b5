"""The quick start's local receiver: one line per event, saying whether its signature verifies."""

import json

from deliveries.management.commands.listen_webhooks import describe
from deliveries.signing import calendence_signature

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OLD_SECRET = "whsec_b2xkc2VjcmV0b2xkc2VjcmV0b2xkc2VjcmV0MTI="
BODY = json.dumps({"id": "evt_1", "event": "booking.created", "data": {"id": "b-1"}}).encode()


def test_a_valid_signature_is_reported_with_the_event():
    headers = {"X-Calendence-Signature": calendence_signature(SECRET, BODY), "X-Calendence-Attempt": "2"}
    line = describe(BODY, headers, SECRET)
    assert line == "booking.created evt_1 booking b-1 (attempt 2) signature: valid"


def test_during_a_rotation_the_previous_signature_is_accepted_and_said_so():
    headers = {
        "X-Calendence-Signature": calendence_signature("whsec_new", BODY),
        "X-Calendence-Signature-Previous": calendence_signature(OLD_SECRET, BODY),
    }
    assert "valid (with the previous secret" in describe(BODY, headers, OLD_SECRET)


def test_a_forged_signature_is_reported_invalid():
    assert describe(BODY, {"X-Calendence-Signature": calendence_signature("whsec_x", BODY)}, SECRET).endswith("INVALID")
