"""A batch of ``airwave.pings`` as it crosses from the pings reader (:mod:`streams.engines.pings`)
to the presence process: raw messages, column by column, with no object per message."""

from __future__ import annotations

from dataclasses import dataclass

import msgspec


class PingBatch(msgspec.Struct, array_like=True, frozen=True):
    """The raw messages of one batch of ``airwave.pings``, column by column (the form in which
    they cross to the presence process: no object per message)."""

    partitions: list[int]
    offsets: list[int]
    keys: list[bytes | None]
    values: list[bytes | None]
    appended: list[float]
    """Each message's broker timestamp, seconds since the epoch."""

    def message(self, index: int) -> RawMessage:
        """The message at ``index``."""
        return RawMessage(
            self.keys[index], self.values[index], self.partitions[index], self.offsets[index]
        )

    def __len__(self) -> int:
        return len(self.offsets)

    def slice(self, start: int, stop: int) -> PingBatch:
        """The messages from ``start`` to before ``stop`` (the batch itself when that is all)."""
        if start == 0 and stop >= len(self.offsets):
            return self
        return PingBatch(
            self.partitions[start:stop],
            self.offsets[start:stop],
            self.keys[start:stop],
            self.values[start:stop],
            self.appended[start:stop],
        )

    def only(self, index: int) -> PingBatch:
        """The batch of the message at ``index`` alone."""
        return PingBatch(
            [self.partitions[index]],
            [self.offsets[index]],
            [self.keys[index]],
            [self.values[index]],
            [self.appended[index]],
        )

    def last_offsets(self) -> dict[int, int]:
        """The last offset of each partition in the batch."""
        last: dict[int, int] = {}
        for partition, offset in zip(self.partitions, self.offsets, strict=True):
            if offset > last.get(partition, -1):
                last[partition] = offset
        return last


@dataclass(frozen=True, slots=True)
class RawMessage:
    """One input message of a :class:`PingBatch` (what a deadletter record keeps of it)."""

    key: bytes | None
    value: bytes | None
    partition: int
    offset: int
