"""``airwave.pings``: Faust's group assigns its partitions, the worker's pings reader
(:mod:`streams.engines.pings`) fetches them past Faust and its presence processes apply them; a
clock timer settles the rest."""

from __future__ import annotations

from typing import Any

from faust.types import TP

from streams.app import CoverwatchApp
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
    app = runtime.app
    assert isinstance(app, CoverwatchApp)
    app.read_elsewhere(reader.topic)

    async def revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        await reader.revoked()

    async def assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        held: set[TP] = args[0]
        await reader.assigned(tp.partition for tp in held if tp.topic == reader.topic)

    app.on_partitions_revoked.connect(revoked)
    app.on_partitions_assigned.connect(assigned)

    @app.timer(TICK_INTERVAL_S, name="settle_presence")  # type: ignore[untyped-decorator]
    async def settle_presence() -> None:
        if runtime.store.usable and reader.consumer.started:
            await on_the_clock(runtime, "settle_presence", reader.settle)

    return reader
