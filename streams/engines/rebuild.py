"""``coverwatch rebuild``: make the Redis state again from the topics (Redis is a cache of the log).

With every worker stopped:

1. check that the input topics exist and that the workers' consumer group has no member;
2. delete every key under the key prefix, the epoch with them (the audit log of officer-level
   reads is kept: it is not derived from the topics);
3. load the reference tables (``areas.definitions``, ``resources.roster``) from the start of
   their topics, with their offset watermarks, through the code the workers use;
4. delete the consumer group (its committed offsets), so the workers start again from the
   earliest offsets of every input (the broker refuses while the group has a member);
5. write a new epoch.

The workers started afterwards trust the new epoch, find the areas and roster in place (they
skip those records again by their watermarks), and re-apply everything else in order: pings are
located against the areas and radios found on the roster. Until step 5 the store has no epoch,
so a worker started in between refuses it (the group still has offsets) or, after step 4, starts
as on a new deployment on a store that already holds the reference tables; an interrupted
rebuild is simply run again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from streams import topics
from streams.domain.areas_feed import decode_area
from streams.domain.roster import decode_roster
from streams.domain.validation import decode_all
from streams.engines.epoch import make_epoch, redis_location
from streams.engines.reference import area_change, roster_change
from streams.engines.stage import limits_for
from streams.kafka.errors import KafkaConnectionError, KafkaError
from streams.kafka.group import GroupAdmin, GroupBusyError, MissingTopicsError, input_partitions
from streams.kafka.reader import TopicPartition, TopicReader
from streams.metrics import MetricsRecorder
from streams.settings import Settings
from streams.state import STORE_UNAVAILABLE, Changes, PartitionCommit, State

IDLE_WAIT_SESSIONS = 3
"""How many session timeouts the rebuild waits for the members of stopped workers to leave."""

Say = Callable[[str], None]


class RebuildError(RuntimeError):
    """An expected failure (a service down, workers running): one line for the operator."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """What the load of one reference topic did."""

    records: int
    rejected: int


async def rebuild(settings: Settings, say: Say, *, workers_stopped: bool = False) -> str:
    """Rebuild the state of ``settings``' deployment (see the module); the new epoch.
    ``workers_stopped``: the operator says every worker is stopped, so the group's members are
    not checked (a broker may list members that have left)."""
    state = State(settings.redis_url, settings.key_prefix, MetricsRecorder())
    group, reader = GroupAdmin(settings), TopicReader(settings)
    try:
        if not await state.ready():
            raise RebuildError(f"Redis at {redis_location(settings.redis_url)} is unreachable")
        await group.start()
        await reader.start()
        return await _rebuild(settings, state, group, reader, say, workers_stopped)
    except KafkaConnectionError as error:
        raise RebuildError(
            f"the broker at {settings.kafka_bootstrap} is unreachable: {error}"
        ) from None
    except MissingTopicsError as error:
        raise RebuildError(
            f"topics missing on the broker: {error}; run coverwatch topics"
        ) from None
    except GroupBusyError as error:
        raise RebuildError(f"{error}: stop every worker, then run the rebuild again") from None
    except (KafkaError, TimeoutError) as error:
        raise RebuildError(
            f"the broker at {settings.kafka_bootstrap} failed: {type(error).__name__}: {error}"
        ) from None
    except STORE_UNAVAILABLE as error:
        raise RebuildError(
            f"Redis at {redis_location(settings.redis_url)} is unavailable: {error}"
        ) from None
    finally:
        await reader.close()
        await group.close()
        await state.close()


async def _rebuild(
    settings: Settings,
    state: State,
    group: GroupAdmin,
    reader: TopicReader,
    say: Say,
    workers_stopped: bool,
) -> str:
    started = time.monotonic()
    await group.check_topics()
    if workers_stopped:
        say(f"consumer group {settings.app_id}: members not checked (--workers-stopped)")
    else:
        await group.wait_idle(IDLE_WAIT_SESSIONS * settings.session_timeout_s)
        say(f"consumer group {settings.app_id} has no member (the workers are stopped)")
    await _clear(settings, state, say)
    loaded: set[str] = set()
    for topic, change, decode in (
        (topics.AREAS, area_change, decode_area),
        (topics.ROSTER, roster_change, decode_roster),
    ):
        result = await _load(settings, state, reader, topic, change, decode)
        loaded.add(settings.topic(topic))
        say(
            f"{topic}: loaded {result.records:,} records ({result.rejected:,} rejected, as when "
            "first read)"
        )
    for topic in (topics.INCIDENTS, topics.STOPSEARCH):
        awaited = await _mark_cad_unread(settings, state, reader, topic)
        say(
            f"{topic}: {awaited} partition(s) with records marked unread, so the pings "
            "wait for them on the event clock"
        )
    replayed = sorted({tp.topic for tp in input_partitions(settings)} - loaded)
    existed = await group.delete_group()
    say(
        f"consumer group {settings.app_id} "
        f"{'deleted (with its offsets)' if existed else 'had no offsets'}: the workers will "
        f"re-read {', '.join(replayed)} from the earliest offsets"
    )
    epoch = make_epoch()
    await state.set_epoch(epoch)
    say(f"new epoch {epoch} written ({time.monotonic() - started:.1f} s)")
    return epoch


async def _mark_cad_unread(
    settings: Settings, state: State, reader: TopicReader, topic: str = topics.INCIDENTS
) -> int:
    """Give every partition of ``topic`` (``cad.incidents`` or ``stopsearch.events``) that
    holds records an event-time progress of 0 (read to nowhere yet), so that on the event clock
    the re-read pings wait for it to pass their time, as they did when first read (with no
    progress at all they would not wait: a feed without CAD or stop-searches). Returns how many
    were marked."""
    commits = []
    for partition in range(topics.BY_NAME[topic].partitions):
        source = TopicPartition(settings.topic(topic), partition)
        if await reader.has_records(source):
            marked = Changes()
            key = (
                state.cad_progress_key(partition)
                if topic == topics.INCIDENTS
                else state.stop_search_progress_key(partition)
            )
            marked.max(key, 0.0)
            commits.append(PartitionCommit(topic, partition, None, marked))
    await state.commit(commits)
    return len(commits)


async def _clear(settings: Settings, state: State, say: Say) -> None:
    deleted, last_said = 0, time.monotonic()
    async for count in state.clear():
        deleted += count
        if time.monotonic() - last_said > 5:
            say(f"  ... {deleted:,} keys deleted")
            last_said = time.monotonic()
    say(
        f"deleted {deleted:,} keys under {settings.key_prefix}: "
        f"(kept: {', '.join(State.KEPT_ON_CLEAR)})"
    )


async def _load(
    settings: Settings,
    state: State,
    reader: TopicReader,
    topic: str,
    change: Callable[[State, Changes, Any], None],
    decode: Callable[..., Any],
) -> Loaded:
    """Apply every record of a reference topic as its agent would, with its watermarks."""
    name = settings.topic(topic)
    partitions = [TopicPartition(name, p) for p in range(topics.BY_NAME[topic].partitions)]
    decoder = partial(decode, limits=limits_for(settings))
    records = rejected = 0
    for partition in partitions:
        async for batch in reader.read(partition):
            accepted, rejections = decode_all([(r.key, r.value) for r in batch], decoder)
            changes = Changes()
            for _, value in accepted:
                change(state, changes, value)
            commit = PartitionCommit(topic, partition.partition, batch[-1].offset, changes)
            await state.commit([commit])
            records += len(batch)
            rejected += len(rejections)
    return Loaded(records, rejected)


async def adopt(settings: Settings, say: Say) -> str:
    """Write an epoch into a store that has applied state but no epoch: one kept from a version
    of the service before epochs (an upgrade). Every key is kept; the new epoch."""
    state = State(settings.redis_url, settings.key_prefix, MetricsRecorder())
    try:
        if not await state.ready():
            raise RebuildError(f"Redis at {redis_location(settings.redis_url)} is unreachable")
        found = await state.epoch()
        if found is not None:
            raise RebuildError(f"the store already has an epoch ({found}): nothing to adopt")
        applied = 0
        for source in sorted(spec.name for spec in topics.TOPICS if spec.direction == "input"):
            partitions = range(topics.BY_NAME[source].partitions)
            watermarks = await state.watermarks(source, partitions)
            applied += sum(1 for offset in watermarks.values() if offset >= 0)
        if not applied:
            raise RebuildError(
                f"no applied state under {settings.key_prefix}: (no offset watermark): "
                "nothing to adopt; run coverwatch rebuild"
            )
        epoch = await state.claim_epoch(make_epoch())
        say(f"adopted the store ({applied} partitions applied) with epoch {epoch}")
        return epoch
    except STORE_UNAVAILABLE as error:
        raise RebuildError(
            f"Redis at {redis_location(settings.redis_url)} is unavailable: {error}"
        ) from None
    finally:
        await state.close()
