"""Live API keys, with their business, in Django's cache (Redis in production, shared by
every process), keyed by the key's SHA-256 digest: most calls authenticate without a query.

An entry lives a minute at most (bookings/api_keys.py decides how long each one does). An
unknown or revoked key is never cached: only the database says no. Nor is any key cached
in a cache of one process's own (local memory, the embedded default): the drops made by
another process (`manage.py revoke_api_key`, another web process) would never reach it.

Whatever changes a key or its business drops the key's entry at once, in every process:
the receivers in bookings/receivers.py on save and delete, and the models' QuerySet.update(),
which sends no signals. Dropping stores None under the entry's name for a few seconds: that
reads as a miss, and it keeps out the entry of a request that read the row just before the
change committed and stores it just after, because entries are only ever added, never
written over.

While the cache cannot be reached, keys are looked up in the database. A change whose
entries could not be dropped is logged as an error: those entries can outlive it by a minute.
"""

import logging
from collections.abc import Iterable
from functools import partial

from django.core.cache import BaseCache, caches
from django.core.cache.backends.locmem import LocMemCache
from django.db import transaction
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

ENTRY_SECONDS = 60
# Longer than any request takes between reading a key from the database and adding its entry.
DROPPED_SECONDS = 10


def entry_name(digest: str) -> str:
    return f"api-key:{digest}"


def shared_cache() -> BaseCache | None:
    """The default cache if every process shares it, else None."""
    cache = caches["default"]
    return None if isinstance(cache, LocMemCache) else cache


def api_key_cache_get(digest: str):
    """The cached ApiKey of this digest (its business loaded), or None."""
    cache = shared_cache()
    if cache is None:
        return None
    try:
        return cache.get(entry_name(digest))
    except RedisError as exc:
        logger.warning("API key looked up in the database: the cache cannot be reached (%s)", exc)
        return None


def api_key_cache_add(api_key, *, seconds: int) -> None:
    """Cache a live key just read from the database, unless its entry was dropped meanwhile."""
    cache = shared_cache()
    if cache is None or seconds < 1:
        return
    try:
        cache.add(entry_name(api_key.key_hash), api_key, seconds)
    except RedisError as exc:
        logger.warning("API key not cached: the cache cannot be reached (%s)", exc)


def api_key_cache_drop(digests: Iterable[str]) -> None:
    """Drop the entries of these keys: now, for the rest of the writer's transaction (and for a
    test inside one), and again once it commits, when the change is what every process reads."""
    cache = shared_cache()
    if cache is None:
        return  # nothing was cached
    names = [entry_name(digest) for digest in digests]
    if names:
        _block(cache, names)
        transaction.on_commit(partial(_block, cache, names))


def _block(cache: BaseCache, names: list[str]) -> None:
    try:
        cache.set_many(dict.fromkeys(names), DROPPED_SECONDS)
    except RedisError as exc:
        logger.error(
            "Cached API keys not dropped: the cache cannot be reached (%s); they may work as they were "
            "for up to %s s",
            exc,
            ENTRY_SECONDS,
        )
