"""API keys: issued once in clear, stored as a SHA-256 hash, looked up by that hash.

A key is `cal_biz_` or `cal_hub_` followed by 43 URL-safe characters (32 random
bytes). The hash of a high-entropy key needs no salt or slow KDF: it cannot be
guessed, only stolen, and the database holds nothing that can be replayed.

A live key is cached under its hash for a minute at most (bookings/api_key_cache.py):
revoking it, deleting it or changing its business drops the entry at once.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .api_key_cache import ENTRY_SECONDS, api_key_cache_add, api_key_cache_get
from .models import ApiKey, Business, Hub

BUSINESS_KEY_PREFIX = "cal_biz_"
HUB_KEY_PREFIX = "cal_hub_"
KEY_RANDOM_BYTES = 32
# last_used_at is a hint for operators; writing it on every request would make each
# authenticated read a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    key: str  # shown to the caller once, never stored


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def api_key_issue(*, business: Business | None = None, hub: Hub | None = None, name: str = "") -> IssuedKey:
    if (business is None) == (hub is None):
        raise ValueError("An API key belongs to exactly one business or one hub.")
    prefix = BUSINESS_KEY_PREFIX if business is not None else HUB_KEY_PREFIX
    key = prefix + secrets.token_urlsafe(KEY_RANDOM_BYTES)
    api_key = ApiKey.objects.create(
        business=business, hub=hub, name=name, prefix=key[: len(prefix) + 4], key_hash=hash_key(key)
    )
    return IssuedKey(api_key=api_key, key=key)


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_authenticate(key: str) -> ApiKey | None:
    """The live key matching `key`, or None for a malformed, unknown or revoked one."""
    if not key.startswith((BUSINESS_KEY_PREFIX, HUB_KEY_PREFIX)) or len(key) > 128:
        return None
    digest = hash_key(key)
    api_key = api_key_cache_get(digest) or _api_key_from_database(digest)
    if api_key is None or not hmac.compare_digest(api_key.key_hash, digest) or api_key.is_revoked:
        return None
    return api_key


def _api_key_from_database(digest: str) -> ApiKey | None:
    """The key with this hash, read anew; a live one has its use recorded and is cached."""
    api_key = ApiKey.objects.select_related("business").filter(key_hash=digest).first()
    if api_key is not None and not api_key.is_revoked:
        _touch_last_used(api_key)
        api_key_cache_add(api_key, seconds=_seconds_until_last_used_is_due(api_key))
    return api_key


def _seconds_until_last_used_is_due(api_key: ApiKey) -> int:
    # An entry lives no longer than the last_used_at it holds stays fresh: a hit never finds it
    # due (and would write it on every call until the entry expired); the first call after the
    # entry is gone reads the row anew and writes it.
    fresh_for = LAST_USED_RESOLUTION - (timezone.now() - api_key.last_used_at)
    return int(min(fresh_for.total_seconds(), ENTRY_SECONDS))


def _touch_last_used(api_key: ApiKey) -> None:
    now = timezone.now()
    if api_key.last_used_at and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    api_key.last_used_at = now
    with transaction.atomic():
        ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
