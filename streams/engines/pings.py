"""The worker's side of ``airwave.pings``: the pings are read past Faust, in batches, and go in
order to the presence process (:mod:`streams.engines.presence_process`), :data:`IN_FLIGHT` at a
time.

Why past Faust: a Faust agent costs about 60-100 µs per message in the framework's own
bookkeeping (fetch, stream, acknowledgement), a full core at 16k pings/s, whatever the agent does.
The pings carry almost all the volume, and their positions already live in Redis: each batch's
Lua commit writes each partition's applied offset with the state it made (the model Kafka Streams
and Flink use with external state).

- **One group.** Faust's consumer group still assigns the ``airwave.pings`` partitions, with every
  other topic's, in one rebalance (:meth:`~streams.app.CoverwatchApp.read_elsewhere`); Faust never
  fetches them. The reader fetches the partitions Faust's group gave this worker with a consumer of
  its own outside any group (:class:`~streams.kafka.partition_reader.PartitionReader`,
  ``getmany``). So pings are read only while CAD and every other input are, by the same workers,
  as when Faust read them; a second group would rebalance on its own and let pings run ahead of
  CAD, which no worker reads during Faust's rebalance.
- **Where it starts.** When partitions are assigned (Faust's ``on_partitions_assigned``), the
  reader takes each over in Redis (it bumps the partition's owner,
  :meth:`~streams.state.store.Store.claim`) and reads it from the offset after its watermark there.
  While Redis cannot be read, the partitions wait.
- **On revoke** (Faust's ``on_partitions_revoked``, which Faust awaits before the rebalance goes
  on) it stops taking batches, drops those fetched but not sent, lets the partitions go in Redis
  (a batch waiting in the presence process for ``cad.incidents``, which no worker reads during
  the rebalance, gives up at once rather than hold the revoke), waits for the batches with the
  presence process to be done (at most :data:`REVOKE_WAIT_S`) and makes the presence process
  forget its cache.
- **Fenced.** Every commit of a batch carries the owner its partition was held under, and the Lua
  call refuses it once another worker has taken the partition over: a worker that lost a
  partition while it could not hear of it (a long pause past the session timeout, a revoke that
  could not wait for its batches) cannot write over the work of the next owner.
- **Kafka offsets.** Positions of committed batches are also committed to Faust's group, every
  :data:`COMMIT_EVERY_S`, for the operator's lag tools only (``kafka-consumer-groups``): never past
  a batch that is not in Redis, and never for a batch applied across a rebalance. They are never
  read back.
- **What the join waits for.** On the event clock every batch carries which ``cad.incidents``
  and ``stopsearch.events`` partitions hold records, as the broker answered after the batch was
  fetched (:mod:`streams.engines.records_seen`): the presence process waits for those not read
  yet, never for an empty one.
- **Failures.** When a batch fails, those sent after it are refused by the presence process;
  they are all applied again one at a time (waiting out an unavailable service); a batch that
  fails for a reason of its data is applied message by message so that only the message that
  fails goes to ``deadletter``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from mode import Service

from streams import topics
from streams.engines.ping_batch import PingBatch
from streams.engines.pings_lane import PresenceLane
from streams.engines.presence_process import PresenceProcess
from streams.engines.runtime import Runtime
from streams.engines.stage import unavailable
from streams.kafka.partition_reader import PartitionReader, RawRecord

log = logging.getLogger(__name__)

REVOKE_WAIT_S = 5.0
"""How long a revoke waits for the batches with the presence process to be committed."""
CLAIM_RETRY_S = 1.0
"""How long the fetch loop waits before it tries again to take partitions over in Redis."""
COMMIT_EVERY_S = 1.0
"""How often the positions of committed batches are committed to the group (for lag tools)."""


class Group(Protocol):
    """What the reader needs of Faust's app: whether its group rebalances, and the commit of
    positions of a topic it does not fetch (:class:`~streams.app.CoverwatchApp`)."""

    @property
    def rebalancing(self) -> bool: ...

    async def commit_read_elsewhere(self, topic: str, positions: Mapping[int, int]) -> bool: ...


def ping_batch_of(records: Mapping[Any, Sequence[RawRecord]]) -> PingBatch:
    """The raw messages of one ``getmany``, column by column (each partition's in offset order)."""
    partitions: list[int] = []
    offsets: list[int] = []
    keys: list[bytes | None] = []
    values: list[bytes | None] = []
    appended: list[float] = []
    for held in records.values():
        for record in held:
            partitions.append(record.partition)
            offsets.append(record.offset)
            keys.append(record.key)
            values.append(record.value)
            appended.append(record.timestamp / 1000.0)
    return PingBatch(partitions, offsets, keys, values, appended)


class PingsReader(Service):
    """Reads the ``airwave.pings`` partitions Faust's group gives this worker and applies them,
    in order, each with the presence process of its lane (``partition % lanes``)."""

    def __init__(
        self, runtime: Runtime, presences: Sequence[PresenceProcess], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.runtime = runtime
        self.lanes = [PresenceLane(self, presence) for presence in presences]
        settings = runtime.settings
        self.topic = settings.topic(topics.PINGS)
        self.consumer = PartitionReader(settings, self.topic)
        self.group: Group = runtime.app  # type: ignore[assignment]
        self.generation = 0
        """Counts the group's assignments and revocations: a batch fetched across one is stale."""
        self.applied: dict[int, int] = {}
        """partition -> last offset committed to Redis, not yet committed to the group."""
        self.owners: dict[int, int] = {}
        """partition -> the owner this worker holds it under in Redis (commits are fenced by
        it: once the partition is given to another worker, a late commit of this one is
        refused)."""
        self.unclaimed: set[int] = set()
        """Partitions assigned but not yet taken over in Redis (it was unavailable)."""
        self.revoking = False
        """Whether a revoke waits for the batches in flight (no batch is sent meanwhile)."""
        self.with_records: dict[str, list[int]] | None = None
        """The partitions of the topics the pings are joined with that hold records, as last
        seen at the broker (sent with every batch: the join wait waits for those not read)."""
        self._starting = asyncio.Lock()

    async def on_start(self) -> None:
        await self._start_consumer()

    async def _start_consumer(self) -> None:
        async with self._starting:
            await self.consumer.start()

    async def on_stop(self) -> None:
        await self.consumer.stop()
        await self.runtime.records_seen.stop()

    def highwaters(self) -> dict[int, int | None]:
        """Each pings partition's high-water mark as of the last fetch (None: not held, or not
        fetched yet)."""
        partitions = topics.BY_NAME[topics.PINGS].partitions
        return {p: self.consumer.highwater(p) for p in range(partitions)}

    # ---- Faust's group's calls -------------------------------------------------------------

    async def assigned(self, partitions: Iterable[int]) -> None:
        """Take the pings partitions of a new assignment over in Redis, and read each from the
        offset after its watermark there."""
        await self._start_consumer()
        self.generation += 1
        self._forget()
        self.owners = {}
        held = set(partitions)
        self.unclaimed = set(held)
        starts = await self._claim()
        self.consumer.hold({p: starts.get(p) for p in sorted(held)})

    async def _claim(self) -> dict[int, int]:
        """Take the unclaimed partitions over (:meth:`~streams.state.store.Store.claim`): the
        offset after each one's watermark. When Redis cannot be read, none is taken (their
        records are not read) and the fetch loop tries again."""
        if not self.unclaimed:
            return {}
        try:
            claimed = await self.runtime.state.claim(topics.PINGS, self.unclaimed)
        except Exception as error:
            if not unavailable(error):
                raise
            log.warning("pings: Redis is unavailable; partitions %s wait", sorted(self.unclaimed))
            return {}
        self.unclaimed = set()
        self.owners.update({p: owner for p, (owner, _) in claimed.items()})
        log.info("pings: reading %s", sorted((p, w) for p, (_, w) in claimed.items()))
        return {p: watermark + 1 for p, (_, watermark) in claimed.items()}

    async def revoked(self) -> None:
        """Stop, and let the batches in flight be committed, before the partitions go (Faust's
        rebalance waits for this)."""
        self.revoking, self.generation = True, self.generation + 1
        for lane in self.lanes:
            lane.drop_fetched()
        await self._release()
        quiet = [asyncio.ensure_future(lane.quiet.wait()) for lane in self.lanes]
        _, waiting = await asyncio.wait(quiet, timeout=REVOKE_WAIT_S)
        if waiting:
            log.warning("pings: batches still in flight after %.0f s of a revoke", REVOKE_WAIT_S)
            for still in waiting:
                still.cancel()
        if self.consumer.started:
            self.consumer.hold({})
        self.revoking = False
        self.applied.clear()
        self.owners = {}
        self.unclaimed = set()
        self._forget()

    async def _release(self) -> None:
        """Let the partitions go in Redis (their owners bumped), so that a batch waiting in the
        presence process for ``cad.incidents`` (which no worker reads during the rebalance) gives
        up at once, and any later commit of this worker's is refused. While Redis cannot be
        written, the revoke waits for such a batch (:data:`REVOKE_WAIT_S` at most); the next
        owner's claim fences it."""
        if not self.owners:
            return
        try:
            await self.runtime.state.release(topics.PINGS, self.owners)
        except Exception as error:
            if not unavailable(error):
                raise
            log.warning(
                "pings: Redis is unavailable; partitions %s go unreleased", sorted(self.owners)
            )

    def _forget(self) -> None:
        for lane in self.lanes:
            lane.presence.forget()

    async def settle(self) -> None:
        """Settle each presence process's partitions on the clock."""
        highwaters = self.highwaters()
        await asyncio.gather(
            *(lane.presence.settle(highwaters, self.owners) for lane in self.lanes)
        )

    # ---- reading and applying --------------------------------------------------------------

    @Service.task
    async def _fetch(self) -> None:
        await self.fetch()

    async def fetch(self) -> None:
        """Fetch batches of the partitions held for :meth:`apply_in_order`."""
        settings = self.runtime.settings
        wait_ms = int(settings.batch_wait_s * 1000)
        while not self.should_stop:
            await self.runtime.store.wait_usable()
            if self.unclaimed:
                await self._claim_late()
                continue
            if not await self._lanes_free(settings.batch_wait_s):
                continue
            records = await self.consumer.read_raw(wait_ms, settings.batch_size * len(self.lanes))
            if records and settings.clock == "event":  # only the event clock waits for CAD
                fetched_at = time.time()
                self.with_records = await self.runtime.records_seen.current(after=fetched_at)
            # records come from the partitions held as getmany returns (an assignment drops what
            # was fetched before it): they belong to the generation of now, never to the one the
            # fetch began in (dropping them would lose them: the consumer's position is past them)
            generation = self.generation
            for lane, held in self._by_lane(records).items():
                batch = ping_batch_of(held)
                for start in range(0, len(batch), settings.batch_size):
                    chunk = batch.slice(start, start + settings.batch_size)
                    lane.fetched.put_nowait((generation, chunk))

    async def _lanes_free(self, wait_s: float) -> bool:
        """Fetch only the partitions whose lane has no batch waiting; False (after waiting up to
        ``wait_s`` for a lane to take its batch) when every lane holding a partition has one."""
        lanes = self.lanes
        held = self.consumer.held()
        full = {p for p in held if lanes[p % len(lanes)].full}
        if held and full == held:
            for lane in lanes:
                lane.took.clear()
            took = [asyncio.ensure_future(lane.took.wait()) for lane in lanes]
            await asyncio.wait(took, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
            for waiting in took:
                waiting.cancel()
            return False
        self.consumer.pause_only(full, self.unclaimed)
        return True

    def _by_lane(
        self, records: Mapping[Any, Sequence[RawRecord]]
    ) -> dict[PresenceLane, dict[Any, Sequence[RawRecord]]]:
        lanes = self.lanes
        split: dict[PresenceLane, dict[Any, Sequence[RawRecord]]] = {}
        for held, partition_records in records.items():
            if partition_records:
                lane = lanes[partition_records[0].partition % len(lanes)]
                split.setdefault(lane, {})[held] = partition_records
        return split

    @Service.task
    async def _apply(self) -> None:
        await asyncio.gather(*(lane.apply_in_order() for lane in self.lanes))

    def holds(self, generation: int, batch: PingBatch) -> bool:
        """Whether ``batch``, fetched in ``generation``, may be sent: fetched since the latest
        rebalance (and not while a revoke waits), and every partition of it taken over in Redis,
        so that its commit is fenced."""
        return (
            generation == self.generation
            and not self.revoking
            and all(partition in self.owners for partition in batch.last_offsets())
        )

    def committed(self, generation: int, batch: PingBatch) -> None:
        """``batch`` was applied: its positions may go to the group, unless a rebalance came in
        between (it may then have been refused as fenced, and the group's offsets must never be
        ahead of Redis)."""
        if generation != self.generation:
            return
        for partition, offset in batch.last_offsets().items():
            self.applied[partition] = max(offset, self.applied.get(partition, -1))

    async def _claim_late(self) -> None:
        """Claim what :meth:`assigned` could not, then read it from its watermark."""
        starts = await self._claim()
        if not starts:
            await asyncio.sleep(CLAIM_RETRY_S)
        for partition, offset in starts.items():
            self.consumer.seek(partition, offset)

    @Service.timer(COMMIT_EVERY_S)
    async def _commit(self) -> None:
        await self._commit_positions()

    async def _commit_positions(self) -> None:
        """Commit the positions after the batches committed to Redis to Faust's group (for lag
        tools only; not while it rebalances: the next commit carries them)."""
        if not self.applied or self.group.rebalancing:
            return
        positions = {p: offset + 1 for p, offset in self.applied.items()}
        self.applied = {}
        await self.group.commit_read_elsewhere(self.topic, positions)
