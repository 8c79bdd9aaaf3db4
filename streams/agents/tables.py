"""The entity feeds kept in Redis for every worker: roster, area definitions, clock ticks."""

from __future__ import annotations

from functools import partial

from streams import topics
from streams.agents.batches import Events, apply_table_batch, batch_agent
from streams.domain.areas_feed import decode_area
from streams.domain.roster import decode_roster
from streams.domain.ticks import decode_tick
from streams.engines.reference import area_change, roster_change
from streams.engines.runtime import Runtime
from streams.state import Changes


def register(runtime: Runtime) -> None:
    """Attach the roster, areas and clock-tick agents."""
    state = runtime.state

    roster = partial(roster_change, state)
    area = partial(area_change, state)

    def tick_change(changes: Changes, ts: float) -> None:
        changes.max(state.clock_key, ts)

    async def roster_batch(events: Events) -> None:
        decode = partial(decode_roster, limits=runtime.limits)
        await apply_table_batch(runtime, topics.ROSTER, events, decode, roster)

    async def areas_batch(events: Events) -> None:
        decode = partial(decode_area, limits=runtime.limits)
        await apply_table_batch(runtime, topics.AREAS, events, decode, area)

    async def ticks_batch(events: Events) -> None:
        clock = runtime.clock
        if clock.now() is None:  # a restarted event clock resumes before it judges a tick
            stored = await state.event_clock()
            if stored is not None:
                clock.observe(stored)

        def judge(key: bytes | None, raw: bytes | None) -> float:
            ts = decode_tick(key, raw, clock.now(), runtime.limits)
            clock.observe(ts)  # the batch's next tick is judged against the clock this one moved
            return ts

        await apply_table_batch(
            runtime, topics.CLOCK_TICKS, events, judge, tick_change, decode_replayed=True
        )  # replayed ticks too: they move this worker's clock on a restart

    for topic, name, handle in (
        (topics.ROSTER, "ingest_roster", roster_batch),
        (topics.AREAS, "ingest_areas", areas_batch),
        (topics.CLOCK_TICKS, "ingest_clock_ticks", ticks_batch),
    ):
        batch_agent(runtime, topic, name, handle)
