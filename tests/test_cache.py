"""Django's Redis cache as configured here (calendence/cache.py): one redis-py client per process."""

from django.core.cache import caches

from calendence.settings import redis_cache


def test_the_redis_cache_makes_its_client_once_and_works_as_djangos(redis_url, settings):
    settings.CACHES = {"default": redis_cache(redis_url)}
    cache = caches["default"]

    assert cache.add("probe", 1, 30) and not cache.add("probe", 2, 30)
    assert cache.incr("probe") == 2 and cache.get("probe") == 2
    cache.set_many({"probe": None}, 30)
    assert cache.get("probe", "missing") is None

    assert cache._cache.get_client() is cache._cache.get_client(write=True)
