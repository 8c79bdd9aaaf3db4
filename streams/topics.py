"""The public contract topics: names, keys, partition counts, compaction and retention.

Redis is a cache of the log (``coverwatch rebuild`` makes it again from the input topics), so
the input topics must keep what the state is made of: the reference tables (areas, roster) for
ever, compacted; every other input at least the longest rolling window (24 h) plus the days of
visits kept in Redis (3), so 4 days. They are created with 7 days (a margin to notice a lost
store over a weekend). The output topics are not read back; their retention is the broker's
default, for their consumers to decide.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Direction = Literal["input", "output"]

DAY_MS: Final = 86_400_000
REBUILD_HISTORY_MS: Final = 4 * DAY_MS
"""What a rebuild needs of every non-reference input: the longest rolling window (24 h) plus the
days of visits kept in Redis (3); a unit test ties it to those constants."""
INPUT_RETENTION_MS: Final = 7 * DAY_MS
"""Retention set on the non-reference input topics (at least :data:`REBUILD_HISTORY_MS`)."""
FOREVER: Final = -1


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """One contract topic. ``name`` is the contract name; brokers may prefix it (settings)."""

    name: str
    key: str
    partitions: int
    compacted: bool
    direction: Direction

    @property
    def configs(self) -> dict[str, str]:
        """The topic configs ``coverwatch topics`` sets: compacted reference tables kept for
        ever, the other inputs kept :data:`INPUT_RETENTION_MS`; outputs get the broker's
        defaults (nothing)."""
        if self.compacted:
            return {"cleanup.policy": "compact", "retention.ms": str(FOREVER)}
        if self.direction == "input":
            return {"cleanup.policy": "delete", "retention.ms": str(INPUT_RETENTION_MS)}
        return {}


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
"""Input topics whose message key is an ISSI: a personal identifier (docs/privacy.md)."""

REFERENCE: tuple[str, ...] = (AREAS, ROSTER)
"""The reference tables: a rebuild loads them into Redis before the workers re-read the rest."""
