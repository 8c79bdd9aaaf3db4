"""The store's epoch and the event clock in Redis, and clearing the store for a rebuild (Redis
is a cache of the log: :mod:`streams.domain.epoch`)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import cast

from streams.domain.ticks import stored_clock
from streams.domain.validation import Rejected
from streams.state import keys as layout
from streams.state.scripts import FORGET_IF_LUA
from streams.state.store import Store, escape_glob

log = logging.getLogger(__name__)


class EpochState(Store):
    """The epoch, the event clock, and deleting what a rebuild makes again."""

    KEPT_ON_CLEAR = ("audit",)
    """Hash tags :meth:`clear` keeps: the audit log of officer-level reads is not derived
    from the topics, so a rebuild cannot make it again."""

    @property
    def epoch_key(self) -> str:
        """The store's epoch (written once per life of the store: first start or rebuild)."""
        return self.keys.key(layout.EPOCH)

    @property
    def clock_key(self) -> str:
        """The event clock's watermark (seconds since the epoch)."""
        return self.keys.key(layout.CLOCK)

    async def event_clock(self) -> float | None:
        """The stored event-clock watermark, if any.

        An impossible one (:func:`~streams.domain.ticks.stored_clock`: not a number, or outside
        the accepted dates, as an absurd tick stored before ticks were judged) is deleted with a
        warning, unless it changed meanwhile, and None is returned: the clock starts again from
        the next tick instead of failing the worker on every start."""
        value = await self.redis.get(self.clock_key)
        self.metrics.round_trip("clock")
        if value is None:
            return None
        try:
            return stored_clock(value)
        except Rejected as impossible:
            log.warning("event clock in Redis reset: %s", impossible.rejection.detail)
            await self.redis.eval(FORGET_IF_LUA, 1, self.clock_key, value)
            self.metrics.round_trip("clock")
            return None

    async def epoch(self) -> str | None:
        """The store's epoch (None: there is none)."""
        value = await self.redis.get(self.epoch_key)
        self.metrics.round_trip("epoch")
        return None if value is None else cast("bytes", value).decode()

    async def claim_epoch(self, epoch: str) -> str:
        """Write ``epoch`` unless the store has one (two workers of a new deployment starting
        together write one between them); the epoch the store then holds."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(self.epoch_key, epoch, nx=True)
            pipe.get(self.epoch_key)
            _, stored = await pipe.execute()
        self.metrics.round_trip("epoch")
        return cast("bytes", stored).decode()

    async def set_epoch(self, epoch: str) -> None:
        """Write the epoch of a rebuilt store."""
        await self.redis.set(self.epoch_key, epoch)
        self.metrics.round_trip("epoch")

    async def clear(self, batch: int = 1000) -> AsyncIterator[int]:
        """Delete every key under this prefix but :data:`KEPT_ON_CLEAR` (SCAN, over every
        master of a Redis Cluster, then UNLINK, ``batch`` keys at a time): yields how many keys
        each UNLINK deleted."""
        pattern = escape_glob(self.prefix) + ":*"
        kept = tuple(self.keys.slot(tag).encode() + b":" for tag in self.KEPT_ON_CLEAR)
        doomed: list[bytes] = []
        async for key in self.redis.scan_iter(match=pattern, count=batch):
            if not cast("bytes", key).startswith(kept):
                doomed.append(key)
            if len(doomed) >= batch:
                yield await self._unlink(doomed)
                doomed = []
        if doomed:
            yield await self._unlink(doomed)

    async def _unlink(self, keys: list[bytes]) -> int:
        """UNLINK ``keys`` (split by slot in a cluster); how many there were."""
        await self.redis.unlink(*keys)
        self.metrics.round_trip("clear")
        return len(keys)
