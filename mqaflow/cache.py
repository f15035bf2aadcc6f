"""A Redis cache that fails open: while Redis is unreachable it behaves as an empty cache.

The cache holds nothing a request needs to be correct, only API throttle counters (login
failures are counted in the database by django-axes). So a Redis outage must not turn every
request into a 500: reads miss, writes are dropped, and after a failure Redis is not tried
again for `RETRY_AFTER_SECONDS` in this process, so requests do not each wait on a dead
server. While it lasts, API throttling is off; a warning says so at most once a minute.
"""

from __future__ import annotations

import functools
import logging
import time

from django.core.cache.backends.redis import RedisCache
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5.0
WARN_EVERY_SECONDS = 60.0

_down_until = 0.0
_last_warning = -WARN_EVERY_SECONDS


def _redis_is_down() -> bool:
    return time.monotonic() < _down_until


def _record_outage(exc: BaseException) -> None:
    global _down_until, _last_warning
    now = time.monotonic()
    _down_until = now + RETRY_AFTER_SECONDS
    if now - _last_warning >= WARN_EVERY_SECONDS:
        _last_warning = now
        logger.warning(
            "cache (Redis) unreachable (%s): serving without it, API throttling is off "
            "until it is back",
            type(exc).__name__,
        )


def reset() -> None:
    """Forget a recorded outage (tests)."""
    global _down_until, _last_warning
    _down_until = 0.0
    _last_warning = -WARN_EVERY_SECONDS


def _no_such_key(*args, **kwargs):
    raise ValueError("Key not found (the cache is unavailable).")


def _default_of_get(key, default=None, version=None):
    return default


def _fail_open(method, fallback):
    """`method`, or `fallback(*args, **kwargs)` when Redis is (recently) unreachable."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        if not _redis_is_down():
            try:
                return method(self, *args, **kwargs)
            except (RedisError, OSError) as exc:
                _record_outage(exc)
        return fallback(*args, **kwargs)

    return wrapper


class FailOpenRedisCache(RedisCache):
    """Django's RedisCache; while Redis is down it acts as an empty cache that keeps nothing."""

    get = _fail_open(RedisCache.get, _default_of_get)
    get_many = _fail_open(RedisCache.get_many, lambda *a, **k: {})
    has_key = _fail_open(RedisCache.has_key, lambda *a, **k: False)
    add = _fail_open(RedisCache.add, lambda *a, **k: False)
    set = _fail_open(RedisCache.set, lambda *a, **k: None)
    set_many = _fail_open(RedisCache.set_many, lambda data, *a, **k: list(data))  # not set
    touch = _fail_open(RedisCache.touch, lambda *a, **k: False)
    delete = _fail_open(RedisCache.delete, lambda *a, **k: False)
    delete_many = _fail_open(RedisCache.delete_many, lambda *a, **k: None)
    clear = _fail_open(RedisCache.clear, lambda *a, **k: False)
    # Like a key that does not exist, for which Django's incr raises ValueError.
    incr = _fail_open(RedisCache.incr, _no_such_key)
