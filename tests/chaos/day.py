"""The recorded day the chaos suite replays, and the malformed messages one scenario adds to it.

Both are generated, deterministically, from a seed: the same size gives the same records, byte
for byte, so no recording is committed as a file. Every record gets a stable id (``r<index>``
for the day's own, ``x<index>`` for an injected one) so that results can be compared by what was
published rather than by broker offsets, which an injected message shifts.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache
from typing import Final, Literal

import orjson

from streams import topics
from streams.domain.areas import AreaDefinition
from streams.simulator.geography import load_default_area_pack
from streams.simulator.world import Record, SimulationOptions, generate

DaySize = Literal["short", "full"]

INPUT_TOPICS: Final = tuple(spec.name for spec in topics.TOPICS if spec.direction == "input")
OPENING_TOPICS: Final = (topics.AREAS, topics.ROSTER)
"""The reference data at the head of a recording, loaded (and waited for) before the feed, as
in production: a fix read before the areas are stored is located against no areas."""


@dataclass(frozen=True, slots=True)
class Day:
    """A recording split into its opening reference data and the live feed after it."""

    name: str
    options: SimulationOptions
    opening: tuple[tuple[str, Record], ...]
    live: tuple[tuple[str, Record], ...]
    publish_s: float
    """Wall seconds over which the live feed is published, at a steady pace."""

    @property
    def radios(self) -> int:
        """Distinct radios that send fixes."""
        return len({r.key for _, r in self.live if r.topic == topics.PINGS})

    def describe(self) -> str:
        """One line: size, duration and what the feed holds."""
        counts: dict[str, int] = {}
        for _, record in self.live:
            counts[record.topic] = counts.get(record.topic, 0) + 1
        hours = self.options.duration_seconds / 3600
        return (
            f"{self.name} day: {hours:g} h from {self.options.start:%H:%M} UTC, "
            f"{self.options.officers} officers, {self.radios} radios, "
            f"{len(self.opening) + len(self.live)} messages "
            f"({counts.get(topics.PINGS, 0)} pings, {counts.get(topics.INCIDENTS, 0)} incident "
            f"events, {counts.get(topics.CRIMES, 0)} crimes, "
            f"{counts.get(topics.STOPSEARCH, 0)} stop-searches) over {self.publish_s:g} s"
        )


def with_limits(
    areas: Sequence[AreaDefinition], evening_minutes: int, default_minutes: int
) -> list[AreaDefinition]:
    """The pack with every Impact Area's limits shortened (the evening band 18:00-02:00 and the
    rest of the day), so that a day of a few hours raises, escalates and clears many alerts."""
    evening = {"start": "18:00", "end": "02:00", "max_gap_minutes": evening_minutes}
    policy = {"bands": [evening], "default_max_gap_minutes": default_minutes, "alert": True}
    return [replace(area, policy=policy) if area.kind == "impact" else area for area in areas]


@lru_cache(maxsize=2)
def recorded_day(size: DaySize) -> Day:
    """The full day (2.5 h from 17:00, 560 officers: about 340 radios; Impact Areas need a
    qualifying visit every 90 min, every 60 min from 18:00) or the short day CI runs (1 h,
    120 officers, more incidents per officer, Impact Areas on a 30 min limit)."""
    pack = load_default_area_pack()
    if size == "full":
        pack = with_limits(pack, 60, 90)
        options = SimulationOptions(
            seed=20,
            officers=560,
            start=datetime(2026, 11, 20, 17, 0, tzinfo=UTC),
            duration_seconds=2.5 * 3600,
        )
        publish_s = 75.0
    else:
        options = SimulationOptions(
            seed=20,
            officers=120,
            start=datetime(2026, 11, 20, 17, 0, tzinfo=UTC),
            duration_seconds=3600,
            incident_rate_per_hour=30.0,
            stop_search_rate_per_officer_hour=0.1,
        )
        pack = with_limits(pack, 30, 30)
        publish_s = 40.0
    records = [(f"r{index}", record) for index, record in enumerate(generate(options, pack))]
    head = 0
    while head < len(records) and records[head][1].topic in OPENING_TOPICS:
        head += 1
    return Day(size, options, tuple(records[:head]), tuple(records[head:]), publish_s)


# -- malformed input ------------------------------------------------------------------------

YEAR_9999: Final = "9999-12-31T23:59:59Z"


def _bad_values(topic: str, serial: int) -> list[tuple[str | None, bytes | None]]:
    """(key, value) of every kind of bad message for ``topic``; ``serial`` makes each unique
    (so each can be found again on ``deadletter``). Keys are never those of the day's records:
    a rejected message must change nothing, and one wrongly accepted shows up as a new entity."""
    key = f"99{serial:05d}"
    point = {"lat": 52.48, "lon": -1.89}
    ts = "2026-11-20T17:30:00Z"
    common: list[tuple[str | None, bytes | None]] = [
        (key, b"{" + f'"broken": {serial}'.encode()),  # truncated JSON
        (key, f"ERROR 502: upstream gateway timeout #{serial}".encode()),
        (key, orjson.dumps([serial, "an array, not an object"])),
        (key, b"\xff\xfe" + serial.to_bytes(4, "big")),  # not UTF-8
        (key, orjson.dumps({"schema": f"{topic}/9", "serial": serial})),  # wrong version
        (key, orjson.dumps({"unexpected": serial})),  # missing fields
        (key, b""),  # empty value
    ]
    if topic == topics.PINGS:
        issi = f"99{serial:05d}"
        specific = [
            {"issi": issi, "ts": YEAR_9999, **point},
            {"issi": issi, "ts": ts, "lat": 999.0, "lon": -1.89},
            {"issi": issi, "ts": ts, "lat": 0.0, "lon": 0.0},
            {"issi": issi, "ts": "not a time", **point},
            {"issi": issi, "ts": ts, **point, "colour": "red"},
            {"issi": "other", "ts": ts, **point},  # key differs from the id
        ]
        return [(issi, orjson.dumps(v)) for v in specific] + common
    if topic == topics.CLOCK_TICKS:
        source = f"chaos-{serial}"
        ticks = [
            {"schema": "clock.ticks/1", "source": source, "ts": YEAR_9999},
            {"schema": "clock.ticks/1", "source": source, "ts": "yesterday"},
            {"schema": "clock.ticks/1", "source": source},
            {"schema": "clock.ticks/1", "source": source, "ts": YEAR_9999, "extra": serial},
        ]
        return [(source, orjson.dumps(v)) for v in ticks] + [(source, value) for _, value in common]
    if topic == topics.INCIDENTS:
        incident_id = f"CHAOS-{serial}"
        base = {"incident_id": incident_id, **point, "category": "theft"}
        specific = [
            {**base, "event": "opened", "grade": "priority", "ts": YEAR_9999},
            {**base, "event": "exploded", "ts": ts},
            {**base, "event": "graded", "grade": "whenever", "ts": ts},
            {**base, "event": "opened", "grade": "priority", "ts": ts, "lat": 91.0},
        ]
        return [(incident_id, orjson.dumps(v)) for v in specific] + common
    if topic == topics.CRIMES:
        crime_id = f"CHAOS-{serial}"
        specific = [
            {"crime_id": crime_id, "ts": YEAR_9999, **point, "category": "burglary"},
            {"crime_id": crime_id, "ts": ts, "lat": -95.0, "lon": 0.0, "category": "burglary"},
            {"crime_id": crime_id, "ts": ts, **point},
        ]
        return [(crime_id, orjson.dumps(v)) for v in specific] + common
    if topic == topics.STOPSEARCH:
        search_id = f"CHAOS-{serial}"
        base = {"id": search_id, **point, "object_of_search": "controlled_drugs"}
        specific = [
            {**base, "ts": YEAR_9999, "outcome": "arrest"},
            {**base, "ts": ts, "outcome": "arrest", "lon": 200.0},
            {**base, "ts": ts},
        ]
        return [(search_id, orjson.dumps(v)) for v in specific] + common
    if topic == topics.ROSTER:
        issi = f"99{serial:05d}"
        specific = [
            {"officer_id": f"X{serial}", "role": "astronaut", "device": "handheld"},
            {"officer_id": f"X{serial}", "role": "response", "device": "pager", "on_duty": 1},
        ]
        return [(issi, orjson.dumps(v)) for v in specific] + common
    area_id = f"chaos-{serial}"
    projected = [[400000, 280000], [400100, 280000], [400100, 280100], [400000, 280000]]
    bow_tie = [[-1.9, 52.48], [-1.88, 52.49], [-1.88, 52.48], [-1.9, 52.49], [-1.9, 52.48]]
    specific = [
        {
            "type": "Feature",
            "id": area_id,
            "properties": {"name": "bow tie", "kind": "impact"},
            "geometry": {"type": "Polygon", "coordinates": [bow_tie]},
        },
        {
            "type": "Feature",
            "id": area_id,
            "properties": {"name": "projected", "kind": "impact"},
            "geometry": {"type": "Polygon", "coordinates": [projected]},
        },
        {"type": "Feature", "id": area_id, "properties": {"kind": "impact"}, "geometry": None},
    ]
    return [(area_id, orjson.dumps(v)) for v in specific] + common


def malformed_messages(count: int = 1000) -> list[tuple[str, Record]]:
    """``count`` bad messages spread over every input topic, each unique, with their ids.

    They include year-9999 fixes, incidents, crimes, stop-searches and clock ticks, which must
    be rejected (``future_timestamp``) rather than drag an event clock to the year 9999."""
    per_topic = dict.fromkeys(INPUT_TOPICS, 0)
    made: list[tuple[str, Record]] = []
    serial = 0
    while len(made) < count:
        for topic in INPUT_TOPICS:
            kinds = _bad_values(topic, serial)
            key, value = kinds[per_topic[topic] % len(kinds)]
            per_topic[topic] += 1
            made.append((f"x{len(made)}", Record(0.0, topic, key, value)))
            serial += 1
            if len(made) == count:
                break
    return made


def interleave(
    live: Sequence[tuple[str, Record]], extra: Sequence[tuple[str, Record]]
) -> list[tuple[str, Record]]:
    """``extra`` spread evenly through ``live`` (each keeps the ``at`` of its neighbour)."""
    if not extra:
        return list(live)
    merged: list[tuple[str, Record]] = []
    step = len(live) / len(extra)
    next_extra = 0
    for index, item in enumerate(live):
        while next_extra < len(extra) and next_extra * step <= index:
            extra_id, record = extra[next_extra]
            merged.append((extra_id, replace(record, at=item[1].at)))
            next_extra += 1
        merged.append(item)
    merged.extend(extra[next_extra:])
    return merged


def value_base64(value: bytes | None) -> str | None:
    """How ``deadletter`` carries a value (to find injected messages again)."""
    return None if value is None else base64.b64encode(value).decode("ascii")
