"""Changes to the Redis state, built as ops for ``lua/apply.lua`` and applied by
:meth:`~streams.state.store.Store.commit` atomically with a source partition's offset watermark:
replaying offsets at or below the watermark changes nothing, so at-least-once delivery is safe.

Also the readers of what those ops keep: :func:`window_sums` (rolling windows) and
:func:`above_watermarks` (which records were applied before).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class Changes:
    """Redis changes for one source partition, applied atomically with its offset watermark.

    ``blobs`` are values passed to the script as they are, back to back in one argument (JSON
    documents would otherwise be escaped again inside the JSON list of ops, and the client packs
    each argument separately: one per document cost more than the script's ``string.sub``).
    """

    ops: list[list[str | list[str]]] = field(default_factory=list)
    blobs: list[bytes] = field(default_factory=list)
    blob_bytes: int = 0

    def hset_blobs(self, key: str, blobs: Mapping[str, bytes]) -> None:
        """Set hash fields to blobs (passed beside the ops, not inside them), in one op."""
        if not blobs:
            return
        lengths = [len(blob) for blob in blobs.values()]
        position = str(self.blob_bytes + 1)
        self.ops.append(["hset_blobs", key, list(blobs), position, [str(n) for n in lengths]])
        self.blobs.extend(blobs.values())
        self.blob_bytes += sum(lengths)

    def visits(
        self, visits_key: str, parts_key: str, summary_key: str, parts: Mapping[str, str]
    ) -> None:
        """Put each visit's part (visit id -> :func:`~streams.domain.dayvisits.visit_part`) in
        its day's summary, replacing the part of an earlier revision; visits already stored in
        ``visits_key`` before the summary was kept are summarised first. One op."""
        if parts:
            self.ops.append(
                ["visits", visits_key, parts_key, summary_key, list(parts), list(parts.values())]
            )

    def hset(self, key: str, name: str, value: str) -> None:
        """Set one hash field."""
        self.ops.append(["hset", key, name, value])

    def hdel(self, key: str, name: str) -> None:
        """Delete one hash field."""
        self.ops.append(["hdel", key, name])

    def hset_versioned(self, key: str, name: str, value: str, version_key: str) -> None:
        """Set a hash field and bump ``version_key``, only if the value differs."""
        self.ops.append(["hset_versioned", key, name, value, version_key])

    def hdel_versioned(self, key: str, name: str, version_key: str) -> None:
        """Delete a hash field and bump ``version_key``, only if it existed."""
        self.ops.append(["hdel_versioned", key, name, version_key])

    def hmax(self, key: str, name: str, value: float) -> None:
        """Raise a hash field to ``value`` if it is lower or missing."""
        self.ops.append(["hmax", key, name, repr(value)])

    def max(self, key: str, value: float) -> None:
        """Raise a string key to ``value`` if it is lower or missing."""
        self.ops.append(["max", key, repr(value)])

    def geoadd(self, key: str, points: Iterable[tuple[float, float, str]]) -> None:
        """Set members' positions (lon, lat, member) in a GEO set, in one op."""
        flat = [item for lon, lat, member in points for item in (repr(lon), repr(lat), member)]
        if flat:
            self.ops.append(["geoadd", key, flat])

    def expire(self, key: str, seconds: int) -> None:
        """Expire a key after ``seconds``."""
        self.ops.append(["expire", key, str(seconds)])

    def once(self, key: str, ttl_s: int, guarded: Changes) -> None:
        """Apply ``guarded`` (ops only, no blobs) unless ``key`` was set before (content
        idempotency); ``key`` is kept for ``ttl_s``."""
        if guarded.blobs:
            raise ValueError("changes applied once cannot carry blobs")
        self.ops.append(["once", key, str(ttl_s), str(len(guarded.ops))])
        self.ops.extend(guarded.ops)

    def require(self, key: str, value: str) -> None:
        """Apply nothing further unless ``key`` holds ``value`` (a lock this worker must hold)."""
        self.ops.append(["require", key, value])

    def hsetnx(self, key: str, name: str, value: str) -> None:
        """Set a hash field only if it is missing."""
        self.ops.append(["hsetnx", key, name, value])

    def sadd(self, key: str, member: str) -> None:
        """Add a set member."""
        self.ops.append(["sadd", key, member])

    def sadd_all(self, key: str, members: Iterable[str]) -> None:
        """Add set members, in one op."""
        listed = sorted(members)
        if listed:
            self.ops.append(["sadd_all", key, listed])

    def srem(self, key: str, member: str) -> None:
        """Remove a set member."""
        self.ops.append(["srem", key, member])

    def lpush_trim(self, key: str, value: str, keep: int) -> None:
        """Push to the head of a list and keep its ``keep`` newest entries."""
        self.ops.append(["lpush_trim", key, value, str(keep)])

    def hincrby(self, key: str, name: str, amount: int) -> None:
        """Add an integer to a hash field; a field that reaches zero is removed (an absent field
        reads as zero)."""
        self.ops.append(["hincrby", key, name, str(amount)])

    def count_keys(self, counts: str, counted: str, member: str, keys: Sequence[str]) -> None:
        """Count ``member`` in ``keys`` (fields of the ``counts`` hash, no commas) and in no
        others: the counts move by the difference from the keys ``counted`` holds for it."""
        self.ops.append(["count_keys", counts, counted, member, sorted(set(keys))])

    def rebuild_counts(
        self, counts: str, counted: str, marker: str, keys: Mapping[str, Sequence[str]]
    ) -> None:
        """Unless ``marker`` is set: replace ``counts`` and ``counted`` by those of the members
        ``keys`` (member -> keys) alone, and set ``marker``."""
        flat = [
            item
            for member, member_keys in keys.items()
            if member_keys
            for item in (member, ",".join(sorted(set(member_keys))))
        ]
        self.ops.append(["rebuild_counts", counts, counted, marker, flat])

    def roster_version(
        self, key: str, issi: str, since: str, entry: str, keep: int, version_key: str
    ) -> None:
        """Add a roster version (valid from ``since``; empty: from the beginning) to a radio's
        history in hash ``key``: it replaces one from the same time, only the latest ``keep``
        are kept, and ``version_key`` is bumped if the history changed."""
        self.ops.append(["roster_version", key, issi, since, entry, str(keep), version_key])

    def prune_scored(self, zset: str, hash_key: str, version_key: str, max_score: float) -> None:
        """Remove the members of ``zset`` scored at most ``max_score`` and the fields of the
        same names from ``hash_key``; bump ``version_key`` if any field was removed."""
        self.ops.append(["prune_scored", zset, hash_key, version_key, repr(max_score)])

    def zadd(self, key: str, score: float, member: str) -> None:
        """Add a scored member."""
        self.ops.append(["zadd", key, repr(score), member])

    def zmax(self, key: str, score: float, member: str) -> None:
        """Add a scored member, or raise its score to ``score`` (never lower it)."""
        self.ops.append(["zmax", key, repr(score), member])

    def zrem(self, key: str, member: str) -> None:
        """Remove a member."""
        self.ops.append(["zrem", key, member])

    def zremrangebyscore(self, key: str, max_score: float) -> None:
        """Remove members scored at most ``max_score``."""
        self.ops.append(["zremrangebyscore", key, repr(max_score)])

    def win_add(
        self, family: str, amounts: Iterable[tuple[int, str, float]], windows: Sequence[int]
    ) -> None:
        """Add each (minute, field, amount) to its minute bucket and to the family's total; a
        minute that already left a window counts as taken out of it at once (a window's sum is
        the total less what left it: see :func:`window_sums`)."""
        flat = [
            item for minute, name, amount in amounts for item in (str(minute), name, repr(amount))
        ]
        if flat:
            self.ops.append(["win_add", family, windows_csv(windows), flat])

    def win_expire(self, family: str, now: float, windows: Sequence[int]) -> None:
        """Take minutes that left each rolling window at ``now`` out of it (idempotent).

        A minute ``m`` is in the window ``w`` at ``now`` iff ``now - w < 60 m <= now`` (the rule
        of :mod:`streams.domain.demand`); minutes ahead of now (clock skew) count at once.
        """
        self.ops.append(["win_expire", family, repr(now), windows_csv(windows)])


@functools.lru_cache(maxsize=16)
def windows_csv(windows: Sequence[int]) -> str:
    """The windows as the Lua ops take them: ascending, comma-separated."""
    return ",".join(str(w) for w in sorted(windows))


def window_sums(
    totals: Mapping[bytes, bytes], outs: Mapping[bytes, bytes], windows: Sequence[int]
) -> Iterator[tuple[int, str, float]]:
    """(window, field, sum) of one family written by :meth:`Changes.win_add` and
    :meth:`Changes.win_expire`: each field's total less what has left the window (rounded to
    1e-6, which takes out the residue of adding and taking out the same amounts in another
    order)."""
    for name, total in totals.items():
        field_name = name.decode()
        amount = float(total)
        for window in windows:
            out = outs.get(f"{window}|{field_name}".encode())
            left = amount if out is None else amount - float(out)
            yield window, field_name, max(0.0, round(left, 6))


def above_watermarks(
    positions: Iterable[tuple[int, int]], watermarks: Mapping[int, int]
) -> list[int]:
    """Indices of the (partition, offset) positions above their partition's applied-offset
    watermark. The others were applied before (a replay after a restart, a rebalance or a new
    consumer group): they are neither decoded nor deadlettered again (the clock has moved on
    since, so a fix or an event counted then could now look stale)."""
    return [
        index
        for index, (partition, offset) in enumerate(positions)
        if offset > watermarks[partition]
    ]


@dataclass(frozen=True, slots=True)
class PartitionCommit:
    """The changes of one batch for one source partition, up to ``last_offset``.

    ``last_offset`` None: clock-driven changes that move no watermark (applied unconditionally;
    they are idempotent because the track state they derive from is written with them).
    """

    source: str
    partition: int
    last_offset: int | None
    changes: Changes
    owner: int | None = None
    """The partition's owner the batch was prepared under (:meth:`~streams.state.store.Store.
    claim`): the commit is refused once the partition has another. None: no fence."""
