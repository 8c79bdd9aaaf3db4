"""How far each partition of an input topic has been read in event time, as the event clock's
waits see it (``docs/time-model.md``): the pings wait for ``cad.incidents`` and
``stopsearch.events``, coverage waits for every ``airwave.pings`` partition.

A partition without stored progress is either empty, or holds records that no worker has applied
yet (after a rebuild, or when a worker starts on topics that already hold a day). The first is
never waited for; the second has been read up to nothing (:data:`UNREAD`), so waiting for it
waits until it is read, as any partition that lags.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

UNREAD = -math.inf
"""The progress of a partition that holds records none of which has been applied."""


def read_progress(
    progress: Sequence[float | None],
    applied: Sequence[bool],
    with_records: Collection[int] | None,
) -> list[float | None]:
    """Each partition's progress for the waits: its stored progress; :data:`UNREAD` for one
    without progress that holds records (``with_records``, as the broker showed them) and has
    applied none (``applied``: whether any of its offsets was committed); None (no data) for one
    without records, or whose applied records carried no time (all dead-lettered).
    ``with_records`` None: not known, and every partition without progress counts as having no
    data."""
    known = frozenset(with_records or ())
    return [
        value
        if value is not None
        else (UNREAD if partition in known and not applied[partition] else None)
        for partition, value in enumerate(progress)
    ]


def joined_progress(progress: Sequence[float | None]) -> float | None:
    """How far a topic the pings are joined with has been read: its slowest partition; None (it
    is not waited for) while one has no data (:func:`read_progress`), so a feed without CAD, or
    a partition CAD never writes to, does not hold the pings up."""
    if not progress or any(value is None for value in progress):
        return None
    return min(value for value in progress if value is not None)
