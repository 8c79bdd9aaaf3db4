"""The public topics of DESIGN §3: names, keys, partition counts and compaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["input", "output"]


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One contract topic. ``name`` is the contract name; brokers may prefix it (settings)."""

    name: str
    key: str
    partitions: int
    compacted: bool
    direction: Direction


PINGS = "airwave.pings"
ROSTER = "resources.roster"
INCIDENTS = "cad.incidents"
CRIMES = "crimes.recorded"
STOPSEARCH = "stopsearch.events"
AREAS = "areas.definitions"
CLOCK_TICKS = "clock.ticks"
VISITS = "presence.visits"
SNAPSHOTS = "area.snapshots"
ALERTS = "coverage.alerts"
DEADLETTER = "deadletter"

TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(PINGS, "issi", 4, compacted=False, direction="input"),
    TopicSpec(ROSTER, "issi", 1, compacted=True, direction="input"),
    TopicSpec(INCIDENTS, "incident_id", 2, compacted=False, direction="input"),
    TopicSpec(CRIMES, "crime_id", 1, compacted=False, direction="input"),
    TopicSpec(STOPSEARCH, "id", 1, compacted=False, direction="input"),
    TopicSpec(AREAS, "area_id", 1, compacted=True, direction="input"),
    TopicSpec(CLOCK_TICKS, "source", 1, compacted=False, direction="input"),
    TopicSpec(VISITS, "area_id", 2, compacted=False, direction="output"),
    TopicSpec(SNAPSHOTS, "area_id", 1, compacted=False, direction="output"),
    TopicSpec(ALERTS, "area_id", 1, compacted=False, direction="output"),
    TopicSpec(DEADLETTER, "source key", 1, compacted=False, direction="output"),
)

BY_NAME: dict[str, TopicSpec] = {spec.name: spec for spec in TOPICS}
KEYED_BY_RADIO: frozenset[str] = frozenset(spec.name for spec in TOPICS if spec.key == "issi")
"""Input topics whose message key is an ISSI: a personal identifier (DESIGN.md §4, privacy)."""
