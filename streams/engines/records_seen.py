"""Which input partitions hold records, as the worker sees them at the broker.

On the event clock the pings wait for ``cad.incidents`` and ``stopsearch.events``, and coverage
waits for every ``airwave.pings`` partition, by each partition's event-time progress in Redis. A
partition without progress yet is either empty (never waited for: a feed without CAD) or holds
records no worker has applied yet: after a rebuild, or when a worker starts on topics that
already hold a day. Only the broker tells the two apart (:class:`~streams.kafka.probe.RecordsProbe`,
which keeps fetching the partitions still empty); the waits treat a partition of the second kind
as read up to nothing (:mod:`streams.domain.progress`).
"""

from __future__ import annotations

import asyncio
import logging

from streams import topics
from streams.kafka.probe import RecordsProbe
from streams.settings import Settings

log = logging.getLogger(__name__)

WATCHED = (topics.PINGS, topics.INCIDENTS, topics.STOPSEARCH)
"""The topics whose partitions are waited for by event-time progress."""
FIRST_LOOK_S = 5.0
"""How long the first look waits for the broker to answer for every partition; one it has not
answered for is left out by the waits until it does."""
CONNECT_AGAIN_S = 10.0
"""How long after a failed connection the probe tries again (the waits meanwhile leave out
every partition without progress, as they would without the probe)."""

WithRecords = dict[str, list[int]]
"""Topic (contract name) -> its partitions that hold records."""


class RecordsSeen:
    """The partitions of :data:`WATCHED` seen holding records (:meth:`current`)."""

    def __init__(self, settings: Settings) -> None:
        self.names = {settings.topic(name): name for name in WATCHED}
        self.probe = RecordsProbe(
            settings.kafka_bootstrap,
            {full: topics.BY_NAME[name].partitions for full, name in self.names.items()},
        )
        self.seen: dict[str, set[int]] = {name: set() for name in WATCHED}
        self._started = False
        self._starting: asyncio.Task[bool] | None = None
        self._failed_at = -float("inf")

    async def current(self) -> WithRecords | None:
        """The partitions seen holding records; None while the broker cannot be reached (the
        waits then leave out every partition without progress). The first call connects and
        waits for the broker's answer (:data:`FIRST_LOOK_S` at most); later ones answer at once."""
        if not self._started and not await self._start():
            return None
        found, _ = await self.probe.look()
        for tp in found:
            self.seen[self.names[tp.topic]].add(tp.partition)
        return {name: sorted(partitions) for name, partitions in self.seen.items()}

    async def _start(self) -> bool:
        if self._starting is None:
            loop = asyncio.get_running_loop()
            if loop.time() - self._failed_at < CONNECT_AGAIN_S:
                return False
            self._starting = asyncio.ensure_future(self._connect())
        started = await asyncio.shield(self._starting)
        self._starting = None
        return started

    async def _connect(self) -> bool:
        try:
            await self.probe.start()
            await self.probe.decided(FIRST_LOOK_S)
        except Exception as error:  # the broker is unavailable: tried again later
            log.warning("could not see which input partitions hold records: %s", error)
            self._failed_at = asyncio.get_running_loop().time()
            await self.probe.stop()
            return False
        self._started = True
        return True

    async def stop(self) -> None:
        """Disconnect."""
        await self.probe.stop()
        self._started = False
