"""Rate limiting per API key (not per IP: many businesses can share one egress address).

A fixed window per key: its requests are counted in windows as long as the rate's period
(a minute for `1200/min`), and those over the limit get 429 with `Retry-After` until the
window ends. Each key's windows start at an offset of its own, so throttled clients do not
all come back in the same second. Across a window's end a key can make up to twice its
rate in a short burst: the price of one counter per key instead of a log of its requests.

Counting is one round trip to Redis (INCR and EXPIRE in one pipeline); with another cache
(local memory, the embedded default) it is cache.add then cache.incr. A cache that
cannot be reached lets the request through, with a warning: the API stays up, unlimited.
"""

import logging
import math
from dataclasses import dataclass

from django.core.cache import BaseCache, caches
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RateLimitWindow:
    """Where a key stands in its current window; calendence.middleware sends it as headers."""

    limit: int
    used: int
    resets_at: float  # Unix time

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(max(0, self.limit - self.used)),
            "X-RateLimit-Reset": str(math.ceil(self.resets_at)),
        }


class ApiKeyRateThrottle(SimpleRateThrottle):
    """DRF's throttle interface and rate setting (THROTTLE_RATES["api_key"]), counted in fixed windows."""

    scope = "api_key"

    def allow_request(self, request, view):
        if self.rate is None or request.auth is None:
            return True  # no limit set; unauthenticated requests never get this far on the API
        key_id = request.auth.pk
        number, resets_at = window_of(key_id.int, self.timer(), self.duration)
        try:
            used = count_request(f"throttle:{self.scope}:{key_id}:{number}", self.duration)
        except RedisError as exc:
            logger.warning("API rate limit not applied: the cache cannot be reached (%s)", exc)
            return True
        self.window = RateLimitWindow(limit=self.num_requests, used=used, resets_at=resets_at)
        request._request.rate_limit = self.window  # the HttpRequest, which the middleware sees
        return used <= self.num_requests

    def wait(self):
        return max(1, math.ceil(self.window.resets_at - self.timer()))


def window_of(key_number: int, now: float, seconds: int) -> tuple[int, float]:
    """The number of a key's window at `now`, and when that window ends."""
    offset = key_number % seconds
    number = int((now - offset) // seconds)
    return number, offset + (number + 1) * seconds


def count_request(name: str, seconds: int) -> int:
    """Count one more request in the counter `name` and return its count. The window is in
    the name, so the counter only has to outlive it: it expires `seconds` after its last request."""
    cache = caches["default"]
    if isinstance(cache, RedisCache):
        return _count_in_redis(cache, name, seconds)
    return _count_in_cache(cache, name, seconds)


def _count_in_redis(cache: RedisCache, name: str, seconds: int) -> int:
    key = cache.make_key(name)
    # Django's cache API has no INCR that creates the key and no pipeline: its redis-py client has.
    client = cache._cache.get_client(key, write=True)
    # No MULTI/EXEC around them (70 % more CPU in redis-py): the two commands leave in one
    # write, which Redis runs whole, and every request sets the expiry again.
    with client.pipeline(transaction=False) as pipe:
        count, _ = pipe.incr(key).expire(key, seconds).execute()
    return count


def _count_in_cache(cache: BaseCache, name: str, seconds: int) -> int:
    cache.add(name, 0, seconds)  # only the window's first request creates the counter
    try:
        return cache.incr(name)
    except ValueError:  # gone between the two calls (local memory culls its oldest keys when full)
        cache.set(name, 1, seconds)
        return 1
