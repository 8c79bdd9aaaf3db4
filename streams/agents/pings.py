"""``airwave.pings``: validate every fix; rejected ones go to ``deadletter``."""

from __future__ import annotations

from functools import partial

from streams import topics
from streams.agents.batches import append_latencies, raw_messages
from streams.domain.validation import decode_all, decode_ping
from streams.runtime import Runtime


def register(runtime: Runtime) -> None:
    """Attach the pings agent."""
    settings = runtime.settings

    @runtime.app.agent(runtime.channels[topics.PINGS], name="ingest_pings", concurrency=1)
    async def ingest_pings(stream):  # type: ignore[no-untyped-def]
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_s):
            now = runtime.clock.now()
            decode = partial(decode_ping, now=now, limits=runtime.limits)
            fixes, rejections = decode_all(raw_messages(events), decode)
            await runtime.deadletter(topics.PINGS, events, rejections)
            for _, fix in fixes:
                runtime.clock.observe(fix.ts)
            runtime.metrics.consumed(topics.PINGS, len(events))
            if now is not None:
                runtime.metrics.lags(topics.PINGS, (now - fix.ts for _, fix in fixes))
            runtime.metrics.latencies(topics.PINGS, append_latencies(events))
