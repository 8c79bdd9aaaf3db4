"""A radio silent for good leaves nothing behind: the presence engine (in-process, on a real
redis-server) forgets its track, latest fix and position; a radio still reporting is kept."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import orjson
import pytest

from streams import topics
from streams.clock import EventClock
from streams.devtools.bench.loading import preload
from streams.devtools.bench.support import (
    BENCH_EPOCH,
    Fleet,
    area_messages,
    make_fleet,
    ping_messages,
)
from streams.devtools.stack.embedded import Services
from streams.domain.timefmt import format_ts
from streams.domain.tracks import forget_after_s
from streams.engines.presence import IDLE_AFTER_S, PresenceEngine, policy_from
from streams.engines.stage import StageServices, limits_for
from streams.metrics import Metrics
from streams.settings import Settings
from streams.simulator.geography import load_default_area_pack
from streams.state import State
from tests.helpers.pings import ping_batch

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class _Message:
    key: bytes
    value: bytes
    partition: int
    offset: int
    timestamp: float


@dataclass(frozen=True)
class _Event:
    message: _Message


async def _no_broker(topic: str, key: bytes | None, value: bytes) -> asyncio.Future[None]:
    delivered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    delivered.set_result(None)
    return delivered


async def test_a_radio_silent_for_good_is_forgotten_from_memory_and_redis(
    stack: Services, unique: str
) -> None:
    settings = Settings(
        kafka_bootstrap=stack.kafka_bootstrap,
        redis_url=stack.redis_url,
        app_id=unique,
        key_prefix=unique,
        clock="event",
        pseudonym_key="integration-test-key-0123456789",
    )
    pack = load_default_area_pack()
    fleet = make_fleet(2, pack)
    await preload(settings, fleet.roster_messages(), area_messages(pack))
    clock = EventClock()
    stage = StageServices(
        settings=settings,
        metrics=Metrics([topics.PINGS]),
        state=State(settings.redis_url, settings.key_prefix, Metrics([])),
        clock=clock,
        limits=limits_for(settings),
        send=_no_broker,
    )
    engine = PresenceEngine(stage)
    offsets = [0]

    async def pings(radios: Fleet, count: int, start: float) -> None:
        messages, _ = ping_messages(radios, count, start, len(radios.issis) / 30.0)
        events: list[Any] = []
        for key, value in messages:
            events.append(_Event(_Message(key, value, 0, offsets[0], time.time())))
            offsets[0] += 1
        await engine.process(ping_batch(events))

    async def tick_at(ts: float) -> None:
        """The partition's event time reaches ``ts`` (an in-band heartbeat: on the event clock a
        partition settles on its own data only), then the clock settles it."""
        clock.observe(ts)
        heartbeat = orjson.dumps({"schema": "clock.ticks/1", "source": "test", "ts": format_ts(ts)})
        await engine.process(ping_batch([_Event(_Message(b"test", heartbeat, 0, offsets[0], ts))]))
        offsets[0] += 1
        await asyncio.sleep(IDLE_AFTER_S)
        await engine.tick({0: None})

    async def stored(issi: str) -> list[bool]:
        slot = stage.state.pings_slice(0)
        redis = stage.state.redis
        return [
            bool(await redis.hexists(slot + ":tracks", issi)),
            bool(await redis.hexists(slot + ":lastfix", issi)),
            await redis.zscore(slot + ":geo", issi) is not None,
        ]

    silent, reporting = fleet.issis
    one = Fleet(fleet.issis[1:], fleet.vehicle[1:], fleet.lon[1:], fleet.lat[1:])
    horizon = forget_after_s(policy_from(settings), settings.max_age_s)
    await pings(fleet, 20, BENCH_EPOCH)  # both radios, every 30 s for 5 minutes
    settled = BENCH_EPOCH + 3600
    await tick_at(settled)  # their visits close, their fixes settle
    later = settled
    while later + 43200 < settled + horizon - 600:  # one radio goes on reporting, twice a day
        later += 43200
        clock.observe(later)
        await pings(one, 1, later)
    later = settled + horizon - 600
    await pings(one, 1, later)
    await tick_at(later)

    assert engine.tracks[0].keys() == {silent, reporting}  # not yet silent for long enough
    assert await stored(silent) == [True, True, True]

    later += 1200
    await pings(one, 1, later)
    await tick_at(later)

    assert engine.tracks[0].keys() == {reporting}
    assert silent not in engine.join_cache.roster
    assert await stored(silent) == [False, False, False]
    assert await stored(reporting) == [True, True, True]
    await stage.state.close()
