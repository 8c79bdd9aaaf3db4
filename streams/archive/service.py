"""The archive writer: a service of the worker with its own consumer group that keeps every
archived topic as Parquet (contract A, docs/archive.md).

Its consumer (group ``<COVERWATCH_APP_ID>-archive``, :mod:`streams.kafka.group_consumer`)
commits no offsets. A partition's records are gathered a block of offsets at a time
(:mod:`streams.domain.archive.blocks`); a block read to its end is written as one file per
(table, day) and marked complete, and rows read more than ``COVERWATCH_ARCHIVE_FLUSH_S`` ago are
written with the block read so far (a later write of the block replaces those files). A new
owner of a partition starts at the block after its last marked one, so a restart or a rebalance
reads and writes the same blocks again; a revoked partition's unwritten rows are dropped, never
written, so two workers never write the same file. A record that cannot be archived is counted
and skipped; a failed write is counted, and its block read again after a pause.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from mode import Service

from streams.archive.maintenance import compact, remove_old_days
from streams.archive.parquet import prepare
from streams.archive.store import ArchiveStore
from streams.archive.writer import start_offsets, write_block
from streams.domain.archive import (
    ARCHIVED_TOPICS,
    TABLE_OF_TOPIC,
    BlockRows,
    Row,
    RowContext,
    Skipped,
    Source,
    archive_row,
    block_of,
    block_start,
)
from streams.domain.validation import TimeLimits
from streams.kafka.group_consumer import GroupConsumer, ReadRecord
from streams.metrics import ArchiveMetrics
from streams.settings import Settings

log = logging.getLogger(__name__)

MAINTAIN_EVERY_S: Final = 3600.0
COMPACTED_DAYS: Final = 3
"""The closed days (yesterday and the two before) the service compacts for its partitions."""
READ_WAIT_MS: Final = 1000
READ_MAX_RECORDS: Final = 5000
RETRY_PAUSE_S: Final = 5.0


Counts = dict[str, int]
"""Rows taken per table, counted over a batch (one metric update per table and batch)."""


@dataclass(slots=True)
class OpenBlock:
    """A held partition's open block, and since when (monotonic) it has records read that no
    file covers yet. Every record counts, rows or not: a heartbeat or an invalid record after the
    last write still widens the block's next write, so once the input stops, the last files
    cover everything read whatever the time flushes cut (and a replay names them alike)."""

    rows: BlockRows
    unwritten_since: float | None = None


class ArchiveService(Service):
    """Archives the topics of contract A to ``COVERWATCH_ARCHIVE_URL``."""

    def __init__(self, settings: Settings, metrics: ArchiveMetrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.metrics = metrics
        self.context = RowContext(
            settings.pseudonym_key.encode(),
            ZoneInfo(settings.timezone),
            TimeLimits(max_message_bytes=settings.max_message_bytes),
        )
        self.store = ArchiveStore(settings.archive_url)
        self.blocks: dict[tuple[str, int], OpenBlock] = {}
        self.unopened: set[tuple[str, int]] = set()
        self.generation = 0
        """Counts the group's assignments and revocations: a batch read across one is stale."""
        self.lock = asyncio.Lock()
        self.consumer = GroupConsumer(
            settings,
            f"{settings.app_id}-archive",
            [settings.topic(topic) for topic in ARCHIVED_TOPICS],
            self,
        )

    async def on_start(self) -> None:
        self.metrics.archive_opened()
        await asyncio.to_thread(prepare)
        await self.consumer.start()

    async def on_stop(self) -> None:
        await self.consumer.stop()

    @Service.task
    async def _archive(self) -> None:
        while not self.should_stop:
            records = await self.consumer.read(READ_WAIT_MS, READ_MAX_RECORDS)
            generation = self.generation  # a read returns records of the positions as they are
            async with self.lock:
                if generation != self.generation:
                    records = []  # a rebalance since reopened every partition: read again
                if self.unopened:
                    reopened = await self.seek_opened()
                    records = [r for r in records if (r.topic, r.partition) not in reopened]
                await self.take(records)
                await self.write_due(time.monotonic())

    @Service.timer(MAINTAIN_EVERY_S)
    async def _maintain(self) -> None:
        async with self.lock:
            held = {(self.contract_topic(topic), partition) for topic, partition in self.blocks}
            today = datetime.now(self.context.zone).date()
            try:
                await asyncio.to_thread(self.maintain, held, today)
            except Exception:  # maintenance is retried at the next hour; archiving goes on
                log.exception("archive: maintenance failed")

    def maintain(self, held: set[tuple[str, int]], today: date) -> None:
        """Compact the recently closed days of the partitions held; apply the retention."""
        closed = [today - timedelta(days=back) for back in range(1, COMPACTED_DAYS + 1)]
        removed = compact(self.store, closed, held)
        kept = self.settings.archive_retention_days
        expired = remove_old_days(self.store, kept, today) if kept > 0 else 0
        log.info("archive: compaction removed %d files, retention %d", removed, expired)

    # ---- the group's calls ---------------------------------------------------------------

    async def assigned(self, partitions: list[tuple[str, int]]) -> Mapping[tuple[str, int], int]:
        """Open each partition at the block after its last marked one; return where to seek."""
        async with self.lock:
            self.generation += 1
            self.unopened.update(partitions)
            return await self.open_partitions()

    async def open_partitions(self) -> dict[tuple[str, int], int]:
        """Open the partitions given but not opened yet, at the block after each one's last
        mark; return where each starts. When the archive cannot be read, none is opened (their
        records are ignored) and the next read tries again."""
        unopened = sorted(self.unopened)
        named = [(self.contract_topic(topic), partition) for topic, partition in unopened]
        block_records = self.settings.archive_block_records
        try:
            starts = await asyncio.to_thread(start_offsets, self.store, named, block_records)
        except Exception:
            log.exception("archive: the block marks cannot be read; trying again")
            return {}
        found: dict[tuple[str, int], int] = {}
        for (topic, partition), held in zip(unopened, named, strict=True):
            offset = starts[held]
            self.blocks[(topic, partition)] = self.open_block(
                held[0], partition, block_of(offset, block_records)
            )
            found[(topic, partition)] = offset
        self.unopened.clear()
        log.info("archive: reading %s", sorted(found.items()))
        return found

    async def revoked(self, partitions: list[tuple[str, int]]) -> None:
        """Drop the partitions' unwritten rows (their next owner reads the blocks again)."""
        async with self.lock:
            self.generation += 1
            for held in partitions:
                self.blocks.pop(held, None)
            self.unopened.difference_update(partitions)

    async def seek_opened(self) -> set[tuple[str, int]]:
        """Open the partitions not opened when they were given, after a pause; return those
        opened (their records in hand are from before the seek)."""
        await asyncio.sleep(RETRY_PAUSE_S)
        opened = await self.open_partitions()
        for (topic, partition), offset in opened.items():
            self.consumer.seek(topic, partition, offset)
        return set(opened)

    # ---- reading and writing -------------------------------------------------------------

    def contract_topic(self, topic: str) -> str:
        """The contract name of a broker topic."""
        return topic.removeprefix(self.settings.topic_prefix)

    def open_block(self, topic: str, partition: int, block: int) -> OpenBlock:
        """An empty block of a partition."""
        fix_every_s = self.settings.archive_fix_every_s
        return OpenBlock(BlockRows(topic, partition, block, fix_every_s))

    async def take(self, records: list[ReadRecord]) -> None:
        """Add records of held partitions to their open blocks, writing each block they end."""
        block_records = self.settings.archive_block_records
        rewound: set[tuple[str, int]] = set()
        counts: Counts = {}
        for record in records:
            held = (record.topic, record.partition)
            open_block = self.blocks.get(held)
            if open_block is None or held in rewound:
                continue  # revoked, or to be read again from its block's start
            rows = open_block.rows
            if record.offset < rows.block * block_records or (
                rows.last is not None and record.offset <= rows.last
            ):
                continue  # read before a seek back took effect
            if block_of(record.offset, block_records) != open_block.rows.block:
                if not await self.write(held, open_block, complete=True):
                    rewound.add(held)
                    continue
                open_block = self.blocks[held] = self.open_block(
                    open_block.rows.topic, record.partition, block_of(record.offset, block_records)
                )
            self.add(open_block, record, counts)
        for table, count in counts.items():
            self.metrics.archived(table, count)

    def add(self, open_block: OpenBlock, record: ReadRecord, counts: Counts) -> None:
        """Add one record's row (if any) to its open block, counting what it gave."""
        rows = open_block.rows
        rows.read(record.offset)
        if open_block.unwritten_since is None:
            open_block.unwritten_since = time.monotonic()
        source = Source(rows.topic, record.partition, record.offset, record.timestamp_ms)
        try:
            found = archive_row(source, record.key, record.value, self.context)
        except Exception:  # a record must never stop the archive: counted, skipped
            log.exception("archive: %s could not be archived", source)
            found = Skipped(TABLE_OF_TOPIC[rows.topic], "internal_error")
        if isinstance(found, Skipped):
            self.metrics.archive_skip(found.table, found.reason)
        elif isinstance(found, Row) and rows.add(found):
            counts[found.table] = counts.get(found.table, 0) + 1

    async def write_due(self, now: float) -> None:
        """Write every block whose oldest record not covered by a file waited the flush
        interval."""
        oldest = 0.0
        for held, open_block in list(self.blocks.items()):
            since = open_block.unwritten_since
            if since is None:
                continue
            if now - since >= self.settings.archive_flush_s:
                await self.write(held, open_block, complete=False)
            elif self.blocks.get(held) is open_block:
                oldest = max(oldest, now - since)
        self.metrics.archive_waiting(oldest)

    async def write(self, held: tuple[str, int], open_block: OpenBlock, *, complete: bool) -> bool:
        """Write the block's files; on failure, read the block again from its start after a
        pause (its rows are dropped) and return False."""
        try:
            files = await asyncio.to_thread(
                write_block, self.store, open_block.rows, complete=complete
            )
        except Exception:
            log.exception("archive: writing %s failed; reading its block again", held)
            self.metrics.archive_write_failed()
            await asyncio.sleep(RETRY_PAUSE_S)
            rows = open_block.rows
            self.blocks[held] = self.open_block(rows.topic, rows.partition, rows.block)
            offset = block_start(rows.block, self.settings.archive_block_records)
            self.consumer.seek(held[0], held[1], offset)
            return False
        if files:
            log.info("archive: wrote %s", " ".join(files))
        self.metrics.archive_written(len(files))
        open_block.unwritten_since = None
        return True
