"""Signing against fixed vectors computed outside the project.

The Calendence vector was computed with `openssl dgst -sha256 -hmac <secret>`;
the Standard Webhooks vector is the example of the Standard Webhooks reference
libraries' test suites.
"""

from deliveries.signing import calendence_signature, standard_webhooks_signature, verify_calendence_signature

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
BODY = b'{"test": 2432232314}'


def test_calendence_signature_matches_openssl():
    assert calendence_signature(SECRET, BODY) == (
        "sha256=80ec8a89ce3cd22133a1066caecb4d04fea7467657c8514d717ec42c38a5c94c"
    )


def test_standard_webhooks_signature_matches_reference_vector():
    signature = standard_webhooks_signature(SECRET, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, BODY)
    assert signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_signature_covers_every_byte_of_the_body():
    assert calendence_signature(SECRET, BODY) != calendence_signature(SECRET, BODY + b" ")


def test_verify_accepts_only_the_full_header():
    header = calendence_signature(SECRET, BODY)
    assert verify_calendence_signature(SECRET, BODY, header)
    # The original reference's PHP check compared the bare digest with the header: never equal.
    assert not verify_calendence_signature(SECRET, BODY, header.removeprefix("sha256="))
    assert not verify_calendence_signature("whsec_other", BODY, header)
