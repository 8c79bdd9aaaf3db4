"""The archive's copy of a partition another reader already reads (``airwave.pings``, read by
the pings agent): which records it may take, in offset order with no gap, and when it must
read the log itself to fill one.

The archive takes a partition's records strictly in offset order from ``next`` (a block must
hold every record of its range, so a replay writes the same files). Records *fed* to it by the
other reader arrive in order but may start past ``next`` (that reader resumed at its own
committed offset, or records were dropped while the archive was busy); they wait in
``pending`` until ``next`` reaches them. Records the archive *read* itself start at ``next``.
A record's content is fixed by its offset, so taking a record from either source gives the
same rows.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar


class Offset(Protocol):
    """Anything read from a partition at an offset."""

    @property
    def offset(self) -> int:
        """Where it was read."""


R = TypeVar("R", bound=Offset)


@dataclass(slots=True)
class FedPartition(Generic[R]):
    """One partition's records on their way to the archive.

    ``caught_up`` is False from when the partition is opened (the records between ``next`` and
    where the other reader resumed are only in the log) until the archive's own reading meets
    the fed records, or a fed record comes at or before ``next``. It is cleared again when fed
    records are dropped or the archive rewinds; a gap in the fed records also means reading.
    """

    next: int
    limit: int
    """How many fed records may wait; past it they are dropped and read again from the log."""
    pending: deque[R] = field(default_factory=deque)
    caught_up: bool = False
    dropped: int = 0
    """Fed records dropped because too many waited (each is read from the log instead)."""

    def feed(self, records: Iterable[R]) -> None:
        """Keep the records fed (in offset order) that the archive has not taken yet. A fed
        record at or before ``next`` shows the feed is level with the archive or behind it:
        it goes on in order, so the archive need not read the log."""
        pending = self.pending
        for record in records:
            offset = record.offset
            if offset <= self.next:
                self.caught_up = True
                if offset < self.next:
                    continue
            if pending and offset <= pending[-1].offset:
                continue
            pending.append(record)
        if len(pending) > self.limit:
            self.dropped += len(pending)
            pending.clear()
            self.caught_up = False

    def take_pending(self) -> list[R]:
        """The waiting records that continue from ``next``; ``next`` moves past them."""
        pending = self.pending
        taken: list[R] = []
        while pending and pending[0].offset <= self.next:
            record = pending.popleft()
            if record.offset == self.next:
                taken.append(record)
                self.next += 1
        return taken

    def take_read(self, records: Iterable[R]) -> list[R]:
        """The records read from the log (from ``next`` on) that continue from ``next``, then
        the waiting ones they join up with; ``next`` moves past them."""
        taken: list[R] = []
        for record in records:
            if record.offset < self.next:
                continue
            if record.offset > self.next:
                break
            taken.append(record)
            self.next += 1
        if self.pending and self.pending[0].offset <= self.next:
            self.caught_up = True  # the read met the fed records: they continue from here
        taken.extend(self.take_pending())
        return taken

    @property
    def needs_reading(self) -> bool:
        """Whether the archive must read the log itself: the feed has not shown it goes on
        from ``next``, or the records between ``next`` and the first fed one are not in hand."""
        return not self.caught_up or bool(self.pending and self.pending[0].offset > self.next)

    def rewind(self, offset: int) -> None:
        """Take the records from ``offset`` again (a block's write failed): what waits is
        kept, the records before it are read from the log."""
        self.next = offset
        self.caught_up = False
