"""The only module that talks to Redis: key layout, Lua scripts and idempotency.

Every key starts with the configured prefix (``COVERWATCH_KEY_PREFIX``), so several deployments
or tests share one Redis without touching each other.
"""

from __future__ import annotations

import redis.asyncio as redis_asyncio

from streams.metrics import Metrics


class State:
    """Live state in Redis for one worker process."""

    def __init__(self, redis_url: str, key_prefix: str, metrics: Metrics) -> None:
        self.redis: redis_asyncio.Redis = redis_asyncio.Redis.from_url(redis_url)
        self.prefix = key_prefix
        self.metrics = metrics

    def key(self, *parts: str) -> str:
        """A Redis key under this deployment's prefix."""
        return ":".join((self.prefix, *parts))

    async def ready(self) -> bool:
        """Whether Redis answers."""
        try:
            answer = await self.redis.ping()
        except (redis_asyncio.ConnectionError, redis_asyncio.TimeoutError, OSError):
            return False
        self.metrics.round_trip("ping")
        return bool(answer)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.redis.aclose()
