"""``airwave.pings``: read past Faust by the worker's pings reader (:mod:`streams.engines.pings`)
and applied by its presence processes; a clock timer settles the rest. While Faust's group
rebalances (so that no worker reads CAD), the reader fetches no pings."""

from __future__ import annotations

from typing import Any

from streams.engines.batches import on_the_clock
from streams.engines.pings import PingsReader
from streams.engines.presence_process import PresenceProcess
from streams.engines.runtime import Runtime

TICK_INTERVAL_S = 1.0


def register(runtime: Runtime) -> PingsReader:
    """Attach the presence processes, the pings reader and the presence timer."""
    presences = [PresenceProcess(runtime) for _ in range(runtime.settings.presence_processes)]
    for presence in presences:
        runtime.app.service(presence)  # type: ignore[arg-type]
    reader = PingsReader(runtime, presences)
    runtime.app.service(reader)  # type: ignore[arg-type]

    def faust_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        reader.inputs_ready.clear()

    def faust_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        reader.inputs_ready.set()

    runtime.app.on_partitions_revoked.connect(faust_revoked)
    runtime.app.on_partitions_assigned.connect(faust_assigned)

    @runtime.app.timer(TICK_INTERVAL_S, name="settle_presence")  # type: ignore[untyped-decorator]
    async def settle_presence() -> None:
        if runtime.store.usable and reader.consumer.started:
            await on_the_clock(runtime, "settle_presence", reader.settle)

    return reader
