"""``resources.roster``, ``areas.definitions``, ``clock.ticks``: the reference tables in Redis
that every worker shares."""

from __future__ import annotations

from streams import topics
from streams.agents.batches import batch_agent
from streams.engines.reference import ReferenceEngine
from streams.engines.runtime import Runtime


def register(runtime: Runtime) -> ReferenceEngine:
    """Attach the roster, areas and clock-tick agents."""
    engine = ReferenceEngine(runtime)
    for topic, name, handle in (
        (topics.ROSTER, "ingest_roster", engine.process_roster),
        (topics.AREAS, "ingest_areas", engine.process_areas),
        (topics.CLOCK_TICKS, "ingest_clock_ticks", engine.process_ticks),
    ):
        batch_agent(runtime, topic, name, handle)
    return engine
