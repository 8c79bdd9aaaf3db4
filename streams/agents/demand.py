"""``cad.incidents``, ``crimes.recorded``, ``stopsearch.events``: per-area demand."""

from __future__ import annotations

from streams import topics
from streams.agents.batches import batch_agent
from streams.engines.demand import DemandEngine
from streams.engines.runtime import Runtime


def register(runtime: Runtime) -> DemandEngine:
    """Attach the three demand agents."""
    engine = DemandEngine(runtime)
    for topic, name, handle in (
        (topics.INCIDENTS, "track_incidents", engine.process_incidents),
        (topics.CRIMES, "count_crimes", engine.process_crimes),
        (topics.STOPSEARCH, "count_stop_searches", engine.process_stop_searches),
    ):
        batch_agent(runtime, topic, name, handle)
    return engine
