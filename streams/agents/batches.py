"""The agent every batch-fed topic gets (the pings have their own, :mod:`streams.agents.pings`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from streams.engines.batches import Events, guarded
from streams.engines.runtime import Runtime


def batch_agent(
    runtime: Runtime, topic: str, name: str, handle: Callable[[Events], Awaitable[None]]
) -> None:
    """Attach an agent that feeds batches of ``topic`` to ``handle``, guarded."""
    settings = runtime.settings

    @runtime.app.agent(runtime.channels[topic], name=name, concurrency=1)
    async def agent(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_s):
            await runtime.store.wait_usable()
            await guarded(runtime, topic, events, handle)
