"""Signatures over the exact bytes we send. Pure functions, tested against fixed vectors."""

import base64
import hashlib
import hmac

from webhooks.models import SECRET_PREFIX


def calendence_signature(secret: str, body: bytes) -> str:
    """`X-Calendence-Signature`: sha256= + hex HMAC-SHA256 of the body, keyed with the whole secret string."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def standard_webhooks_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """`webhook-signature` entry per Standard Webhooks: v1, + base64 HMAC of "id.timestamp.body".

    The key is the base64-decoded part of the secret after `whsec_`.
    """
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def verify_calendence_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(calendence_signature(secret, body), header or "")
