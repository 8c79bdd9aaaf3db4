"""Which input partitions hold records, as the worker sees them at the broker.

On the event clock the pings wait for ``cad.incidents`` and ``stopsearch.events``, and coverage
waits for every ``airwave.pings`` partition, by each partition's event-time progress in Redis. A
partition without progress yet is either empty (never waited for: a feed without CAD) or holds
records no worker has applied yet: after a rebuild, when a worker starts on topics that already
hold a day, or when its first records have just arrived. Only the broker tells the two apart
(:class:`~streams.kafka.probe.RecordsProbe`, which keeps fetching the partitions still empty);
the waits treat a partition of the second kind as read up to nothing
(:mod:`streams.domain.progress`).

**Which answer is good enough.** Records of different topics are not ordered at the broker, but
the feeds send each record about when it happens: a CAD event about time ``t`` reaches the
broker before a fix from after ``t`` does. So a partition counts as empty for a batch of pings
only when a fetch that *began after those pings were fetched* found it empty
(:meth:`RecordsSeen.current` with ``after``): its first CAD records, sent before those pings,
would have been there. While some partition is empty, that costs each batch one fetch of the
probe (about :data:`ANSWERED_AFTER_S`); once every partition holds records, nothing.
"""

from __future__ import annotations

import asyncio
import logging
import time

from streams import topics
from streams.kafka.probe import FETCH_WAIT_MS, RecordsProbe
from streams.settings import Settings

log = logging.getLogger(__name__)

WATCHED = (topics.PINGS, topics.INCIDENTS, topics.STOPSEARCH)
"""The topics whose partitions are waited for by event-time progress."""
ANSWERED_AFTER_S = FETCH_WAIT_MS / 1000.0 + 0.03
"""How long after the moment asked about a fetch must have answered for it to have begun after
it: the fetch's wait at the broker, and a margin for the network."""
ANSWER_WITHIN_S = 5.0
"""How long :meth:`RecordsSeen.current` waits for the broker's answer; a partition not answered
for is taken for empty (the waits leave it out, as they would without the probe), with a
warning."""
CONNECT_AGAIN_S = 10.0
"""How long after a failed connection the probe tries again (the waits meanwhile leave out
every partition without progress, as they would without the probe)."""
POLL_S = 0.005
"""How often :meth:`RecordsSeen.current` looks while it waits for an answer."""

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

    async def current(self, after: float | None = None) -> WithRecords | None:
        """The partitions seen holding records, as the broker answered after ``after`` (wall
        time, ``time.time()``; None: now); None while the broker cannot be reached (the waits
        then leave out every partition without progress)."""
        answered_after = (time.time() if after is None else after) + ANSWERED_AFTER_S
        if not self._started and not await self._start():
            return None
        deadline = time.monotonic() + ANSWER_WITHIN_S
        while True:
            found, empty = await self.probe.look()
            for tp in found:
                self.seen[self.names[tp.topic]].add(tp.partition)
            waiting = sorted(tp for tp, at in empty.items() if at is None or at < answered_after)
            if not waiting:
                break
            if time.monotonic() >= deadline:
                log.warning(
                    "the broker has not answered within %.0f s whether %s hold records: taken "
                    "for empty",
                    ANSWER_WITHIN_S,
                    ", ".join(f"{tp.topic}[{tp.partition}]" for tp in waiting),
                )
                break
            await asyncio.sleep(POLL_S)
        return {name: sorted(partitions) for name, partitions in self.seen.items()}

    async def _start(self) -> bool:
        if self._starting is None:
            if time.monotonic() - self._failed_at < CONNECT_AGAIN_S:
                return False
            self._starting = asyncio.ensure_future(self._connect())
        started = await asyncio.shield(self._starting)
        self._starting = None
        return started

    async def _connect(self) -> bool:
        try:
            await self.probe.start()
        except Exception as error:  # the broker is unavailable: tried again later
            log.warning("could not see which input partitions hold records: %s", error)
            self._failed_at = time.monotonic()
            await self.probe.stop()
            return False
        self._started = True
        return True

    async def stop(self) -> None:
        """Disconnect."""
        await self.probe.stop()
        self._started = False
