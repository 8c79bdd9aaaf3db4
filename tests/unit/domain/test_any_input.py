"""No input can stop a worker: every input topic, fed arbitrary bytes and arbitrary JSON (extreme
numbers and dates, NaN-like strings, huge integers, nested junk), is either refused with
:class:`Rejected` or accepted as a value inside the documented ranges, and an accepted value then
goes through the pure domain steps it reaches in the service without raising: pings into the
fence index and the track ``advance``; roster entries into a fix's context; incidents into the
incident merge and demand; crimes and stop-searches into demand; areas into the coverage policy,
the fence index and the ledger; clock ticks (and every accepted event time, which moves an event
clock) into the clock, the local day, its bounds, the ledger, coverage and the snapshot.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Final
from zoneinfo import ZoneInfo

import orjson
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from streams.clock import EventClock
from streams.domain.areas import AreaDefinition, area_to_feature
from streams.domain.areas_feed import AreaRemoved, decode_area, decode_stored_area
from streams.domain.coverage import DEFAULT_FEED, CoverageInputs, evaluate, policy_for
from streams.domain.demand import (
    attributed_areas,
    demand_changes,
    open_incident_keys,
    response_sample_changes,
)
from streams.domain.dose import minute_buckets
from streams.domain.fences import FenceIndex
from streams.domain.fixes import Fix
from streams.domain.harm import DEFAULT_HARM_WEIGHTS
from streams.domain.incidents import (
    CrimeRecorded,
    IncidentEvent,
    StopSearchRecorded,
    apply_incident,
    attribute,
    decode_crime,
    decode_incident,
    decode_stop_search,
    incident_from_dict,
    incident_to_dict,
)
from streams.domain.ledger import daily_ledger, day_bounds, policy_windows
from streams.domain.publication import visit_value
from streams.domain.roster import RosterEntry, RosterRemoved, decode_roster
from streams.domain.snapshots import AreaFacts, snapshot_value
from streams.domain.ticks import Heartbeat, decode_or_heartbeat, decode_tick
from streams.domain.timefmt import format_ts, local_day
from streams.domain.tracks import (
    DoseAccrued,
    FixContext,
    Policy,
    VisitRecorded,
    advance,
    expire,
    new_track,
)
from streams.domain.validation import (
    EARLIEST_TS,
    ID_PATTERN,
    LATEST_TS,
    Rejected,
    TimeLimits,
    decode_ping,
)

NOW: Final = datetime(2026, 11, 21, 18, 0, tzinfo=UTC).timestamp()
SQUARE: Final = [[-1.9, 52.48], [-1.89, 52.48], [-1.89, 52.49], [-1.9, 52.49], [-1.9, 52.48]]
ZONES: Final = ("Europe/London", "Pacific/Kiritimati", "Pacific/Pago_Pago")
"""The service's default zone and the two furthest from UTC (+14 h, -11 h)."""
POLICY: Final = Policy()
CONTEXT: Final = FixContext(role="response", device="handheld", callsign="B21")
AREA: Final = decode_area(
    b"ia-01",
    orjson.dumps(
        {
            "type": "Feature",
            "id": "ia-01",
            "properties": {"name": "Test Area", "kind": "impact"},
            "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
        }
    ),
    TimeLimits(),
)
assert isinstance(AREA, AreaDefinition)
FENCES: Final = FenceIndex([AREA])

# ---- arbitrary values -----------------------------------------------------------------------

EXTREME_TIMES: Final = (
    "9999-12-31T00:00:00Z",
    "9999-12-31T23:59:59.999999-23:59",
    "0001-01-01T00:00:00Z",
    "0001-01-01T00:00:00+23:59",
    "1970-01-01T00:00:00Z",
    "1999-12-31T23:59:59.999999Z",
    "2000-01-01T00:00:00Z",
    "2099-12-31T23:59:59.999999Z",
    "2099-12-31T23:59:59-11:00",
    "2100-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "2026-11-21T18:00:00",
    "2026-02-30T18:00:00Z",
    "2026-11-21T24:00:00Z",
    "2026-11-21T18:00:00+24:00",
    "20261121T180000Z",
    "2026-W47-6T18:00:00Z",
    "NaN",
    "Infinity",
    "-Infinity",
    "nan",
    "T",
    "",
)
ZONE_OFFSETS: Final = st.sampled_from(
    [UTC, timezone(timedelta(hours=14)), timezone(-timedelta(hours=23, minutes=59))]
)
timestamps = st.one_of(
    st.sampled_from(EXTREME_TIMES),
    st.datetimes(timezones=ZONE_OFFSETS).map(lambda moment: moment.isoformat()),
    st.floats(-3 * 86400, 3 * 86400).map(
        lambda offset_s: datetime.fromtimestamp(NOW + offset_s, UTC).isoformat()
    ),
    st.text(max_size=12),
)
numbers = st.one_of(
    st.integers(),
    st.sampled_from([10**400, -(10**400), 2**63, -(2**63) - 1, 2**64]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from([0, -0.0, 1e308, -1e308, 5e-324, 90, -90, 180, -180, 360, 52.485, -1.895]),
)
scalars = st.one_of(st.none(), st.booleans(), numbers, timestamps, st.text(max_size=16))
junk = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=10,
)
raw_junk = st.one_of(
    st.binary(max_size=120),
    junk.map(lambda value: json.dumps(value).encode()),
    st.sampled_from(
        [b'{"lat": NaN}', b'{"ts": Infinity}', b"1e400", b'{"a": ' * 40, b"null", b"[]", b"{}"]
    ),
)

# ---- near-valid messages: a valid value of the topic with a few fields changed or dropped -------

ABSENT: Final = object()


def base_values() -> dict[str, dict[str, object]]:
    near = datetime.fromtimestamp(NOW - 30, UTC).isoformat()
    located = {"ts": near, "lat": 52.485, "lon": -1.895}
    return {
        "airwave.pings": {
            "issi": "2001001",
            **located,
            "accuracy_m": 5.0,
            "speed_mps": 1.5,
            "heading_deg": 90.0,
        },
        "resources.roster": {
            "issi": "2001001",
            "officer_id": "4471",
            "callsign": "B21",
            "unit": "Central NPT",
            "role": "response",
            "device": "handheld",
            "on_duty": True,
            "ts": near,
        },
        "cad.incidents": {
            "incident_id": "INC-1",
            "event": "opened",
            "grade": "immediate",
            "category": "assault",
            "callsigns": ["B21"],
            **located,
        },
        "crimes.recorded": {
            "crime_id": "CR-1",
            "category": "burglary",
            "incident_id": "INC-1",
            **located,
        },
        "stopsearch.events": {
            "id": "SS-1",
            "object_of_search": "drugs",
            "outcome": "arrest",
            "callsign": "B21",
            **located,
        },
        "areas.definitions": {
            "type": "Feature",
            "id": "ia-02",
            "properties": {
                "name": "Area",
                "kind": "impact",
                "policy": {"bands": [{"start": "18:00", "end": "02:00", "max_gap_minutes": 90}]},
            },
            "geometry": {"type": "Polygon", "coordinates": [SQUARE]},
        },
        "clock.ticks": {"source": "sim", "ts": near},
    }


BASE: Final = base_values()
KEYS: Final = {
    "airwave.pings": b"2001001",
    "resources.roster": b"2001001",
    "cad.incidents": b"INC-1",
    "crimes.recorded": b"CR-1",
    "stopsearch.events": b"SS-1",
    "areas.definitions": b"ia-02",
    "clock.ticks": b"sim",
}
REPLACEMENTS: Final[dict[str, st.SearchStrategy[object]]] = {
    "ts": timestamps,
    "lat": numbers,
    "lon": numbers,
    "accuracy_m": numbers,
    "speed_mps": numbers,
    "heading_deg": numbers,
    "event": st.sampled_from(["opened", "graded", "assigned", "arrived", "closed", "reopened"]),
    "grade": st.sampled_from(["immediate", "priority", "scheduled", "resolution", "urgent"]),
    "properties": st.fixed_dictionaries(
        {"name": st.text(max_size=8), "kind": st.sampled_from(["impact", "other", "x"])},
        optional={"policy": junk},
    ),
    "geometry": st.fixed_dictionaries(
        {
            "type": st.sampled_from(["Polygon", "MultiPolygon", "Point"]),
            "coordinates": st.one_of(
                junk, st.lists(st.lists(st.lists(numbers, max_size=3), max_size=6), max_size=2)
            ),
        }
    ),
}


@st.composite
def near_valid(draw: st.DrawFn, topic: str) -> bytes:
    """The topic's valid value with a field or two replaced by junk or dropped, sometimes an
    unknown field or a schema marker added."""
    value = dict(BASE[topic])
    changed = draw(st.sampled_from([0, 1, 1, 1, 2]))
    for field in draw(st.lists(st.sampled_from(sorted(value)), min_size=changed, max_size=changed)):
        replacement = draw(
            st.one_of(st.just(ABSENT), REPLACEMENTS.get(field, junk), REPLACEMENTS.get(field, junk))
        )
        if replacement is ABSENT:
            value.pop(field, None)
        else:
            value[field] = replacement
    marker = draw(st.sampled_from([ABSENT, f"{topic}/1", ABSENT, f"{topic}/2", ABSENT, 1]))
    if marker is not ABSENT:
        value["schema"] = marker
    if draw(st.sampled_from([False] * 9 + [True])):
        value[draw(st.text(max_size=8))] = draw(junk)
    return json.dumps(value).encode()


def message(topic: str) -> st.SearchStrategy[tuple[bytes | None, bytes | None]]:
    """A message of ``topic``: mostly near-valid under its proper key, else anything at all."""
    right = KEYS[topic]
    keys = st.sampled_from([right, right, right, right, None, b"other", b"\xff"])
    values: st.SearchStrategy[bytes | None] = st.one_of(
        near_valid(topic), near_valid(topic), near_valid(topic), raw_junk, st.none()
    )
    return st.tuples(keys, values)


clocks = st.sampled_from([None, NOW, EARLIEST_TS, LATEST_TS - 1.0])
limits = st.builds(
    TimeLimits,
    max_future_skew_s=st.sampled_from([30.0, 86400.0, 1e12]),
    max_age_s=st.sampled_from([86400.0, 1e12]),
)

# ---- what an accepted value must be, and the domain steps it reaches --------------------------


def assert_event_time(ts: float, now: float | None, limit: TimeLimits, *, stale_too: bool) -> None:
    """An accepted event time is a date the service accepts, within the limits around ``now``."""
    assert math.isfinite(ts)
    assert EARLIEST_TS <= ts < LATEST_TS
    if now is not None:
        assert ts <= now + limit.max_future_skew_s
        if stale_too:
            assert ts >= now - limit.max_age_s


def assert_place(lat: float, lon: float) -> None:
    assert -90.0 <= lat <= 90.0
    assert -180.0 <= lon <= 180.0
    assert (lat, lon) != (0.0, 0.0)


def clock_steps(ts: float) -> None:
    """What the service does with an event clock an accepted time moved: its day in every zone,
    the day's bounds and policy windows, the ledger, coverage and the snapshot at that now."""
    clock = EventClock()
    clock.observe(ts)
    now = clock.now()
    assert now == ts
    assert format_ts(now).endswith("Z")
    for zone in ZONES:
        day = local_day(now, ZoneInfo(zone))
        start, end = day_bounds(day, zone)
        assert start <= now < end
        policy = policy_for(AREA, zone)
        assert policy_windows(policy, day)
        ledger = daily_ledger(AREA.area_id, day, policy, [(now - 900, now)], 0, {}, now, None)
        inputs = CoverageInputs(now - 3600, 1, {}, now - 60, 1, now - 7200)
        status, _ = evaluate(AREA.area_id, policy, inputs, None, now, DEFAULT_FEED)
        snapshot = snapshot_value(AreaFacts(AREA), status, ledger, now)
        assert snapshot["ts"] == format_ts(now)


def ping_steps(fix: Fix, now: float | None, limit: TimeLimits) -> None:
    assert ID_PATTERN.fullmatch(fix.issi)
    assert_event_time(fix.ts, now, limit, stale_too=True)
    assert_place(fix.lat, fix.lon)
    for optional in (fix.accuracy_m, fix.speed_mps, fix.heading_deg):
        assert optional is None or (math.isfinite(optional) and optional >= 0.0)
    assert fix.heading_deg is None or fix.heading_deg <= 360.0
    location = FENCES.locate([fix.lon], [fix.lat])[0]
    track, facts = advance(new_track(fix.issi), fix, location, CONTEXT, POLICY)
    later = Fix(fix.issi, fix.ts + 60.0, 52.485, -1.895)
    track, more = advance(track, later, FENCES.locate([later.lon], [later.lat])[0], CONTEXT, POLICY)
    _, closing = expire(track, later.ts + 3600.0, POLICY)
    for fact in (*facts, *more, *closing):
        if isinstance(fact, VisitRecorded):
            visit_value(b"any-input-property-key", fact.visit)
        elif isinstance(fact, DoseAccrued):
            minute_buckets(fact)
    clock_steps(fix.ts)


def roster_steps(entry: RosterEntry | RosterRemoved) -> None:
    if isinstance(entry, RosterRemoved):  # a tombstone: its key names the radio to forget
        return
    for identity in (entry.issi, entry.officer_id, entry.callsign):
        assert ID_PATTERN.fullmatch(identity)
    orjson.dumps(entry)
    context = FixContext(role=entry.role, device=entry.device, callsign=entry.callsign)
    fix = Fix(entry.issi, NOW, 52.485, -1.895)
    advance(new_track(entry.issi), fix, FENCES.locate([fix.lon], [fix.lat])[0], context, POLICY)


def incident_steps(event: IncidentEvent, now: float | None, limit: TimeLimits) -> None:
    assert_event_time(event.ts, now, limit, stale_too=True)
    if event.lat is not None and event.lon is not None:
        assert_place(event.lat, event.lon)
    if event.event == "graded" and event.grade is None:
        with pytest.raises(Rejected, match="impossible_event"):
            apply_incident(None, event)
        return
    state, facts = apply_incident(None, event)
    assert apply_incident(state, event) == (state, [])  # the same event again changes nothing
    stored = orjson.loads(orjson.dumps(incident_to_dict(state)))
    assert incident_from_dict(stored) == state
    areas = _areas_at(state.lat, state.lon)
    demand_changes(facts, areas, DEFAULT_HARM_WEIGHTS)
    placed = attribute(state, areas)
    counted_in = {area for area, _ in open_incident_keys(placed)}
    assert counted_in <= set(attributed_areas(areas))
    response_sample_changes(facts, areas)
    clock_steps(event.ts)


def demand_steps(
    event: CrimeRecorded | StopSearchRecorded, now: float | None, limit: TimeLimits
) -> None:
    assert_event_time(event.ts, now, limit, stale_too=True)
    assert_place(event.lat, event.lon)
    demand_changes([event], _areas_at(event.lat, event.lon), DEFAULT_HARM_WEIGHTS)
    clock_steps(event.ts)


def area_steps(area: AreaDefinition | AreaRemoved) -> None:
    if isinstance(area, AreaRemoved):
        return
    assert ID_PATTERN.fullmatch(area.area_id)
    stored = decode_stored_area(orjson.dumps(area_to_feature(area)))
    assert stored.area_id == area.area_id
    fences = FenceIndex([area])
    fences.locate([-1.895, 0.0], [52.485, 0.0])
    policy = policy_for(area, "Europe/London")
    day = local_day(NOW, ZoneInfo("Europe/London"))
    ledger = daily_ledger(area.area_id, day, policy, [], 0, {}, NOW, None)
    status, _ = evaluate(area.area_id, policy, CoverageInputs(None, 0, {}, None, 0, NOW), None, NOW)
    snapshot_value(AreaFacts(area), status, ledger, NOW)


def tick_steps(ts: float, now: float | None, limit: TimeLimits) -> None:
    assert_event_time(ts, now, limit, stale_too=False)
    clock_steps(ts)


def _areas_at(lat: float | None, lon: float | None) -> tuple[str, ...]:
    if lat is None or lon is None:
        return ()
    return tuple(sorted(FENCES.locate([lon], [lat])[0].inside))


Step = Callable[[bytes | None, bytes | None, float | None, TimeLimits], None]


def ping_topic(key: bytes | None, raw: bytes | None, now: float | None, limit: TimeLimits) -> None:
    ping_steps(decode_ping(key, raw, now, limit), now, limit)


def roster_topic(
    key: bytes | None, raw: bytes | None, now: float | None, limit: TimeLimits
) -> None:
    roster_steps(decode_roster(key, raw, limit))


def incident_topic(
    key: bytes | None, raw: bytes | None, now: float | None, limit: TimeLimits
) -> None:
    read = decode_or_heartbeat(decode_incident, key, raw, now, limit)  # as the demand agent
    if isinstance(read, Heartbeat):
        tick_steps(read.ts, now, limit)
    else:
        incident_steps(read, now, limit)


def crime_topic(key: bytes | None, raw: bytes | None, now: float | None, limit: TimeLimits) -> None:
    demand_steps(decode_crime(key, raw, now, limit), now, limit)


def stop_search_topic(
    key: bytes | None, raw: bytes | None, now: float | None, limit: TimeLimits
) -> None:
    demand_steps(decode_stop_search(key, raw, now, limit), now, limit)


def area_topic(key: bytes | None, raw: bytes | None, now: float | None, limit: TimeLimits) -> None:
    area_steps(decode_area(key, raw, limit))


def tick_topic(key: bytes | None, raw: bytes | None, now: float | None, limit: TimeLimits) -> None:
    tick_steps(decode_tick(key, raw, now, limit), now, limit)


TOPICS: Final[dict[str, Step]] = {
    "airwave.pings": ping_topic,
    "resources.roster": roster_topic,
    "cad.incidents": incident_topic,
    "crimes.recorded": crime_topic,
    "stopsearch.events": stop_search_topic,
    "areas.definitions": area_topic,
    "clock.ticks": tick_topic,
}


def outcome(
    step: Step, key: bytes | None, raw: bytes | None, now: float | None, limit: TimeLimits
) -> str:
    """``accepted`` when the message went through every step, else the reason it was refused
    (any other exception fails the test)."""
    try:
        step(key, raw, now, limit)
    except Rejected as rejected:
        return rejected.rejection.reason
    return "accepted"


REFUSALS: Final = {
    "invalid_json",
    "invalid_schema",
    "wrong_schema_version",
    "invalid_coordinates",
    "invalid_geometry",
    "future_timestamp",
    "stale_timestamp",
    "oversized",
}
"""The reasons a decoder gives (the others belong to later steps: ``too_late``, ...)."""


@pytest.mark.parametrize("topic", sorted(TOPICS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), now=clocks, limit=limits)
def test_any_input_is_rejected_or_accepted_within_range_and_never_fails_the_domain(
    topic: str, data: st.DataObject, now: float | None, limit: TimeLimits
) -> None:
    key, raw = data.draw(message(topic))
    result = outcome(TOPICS[topic], key, raw, now, limit)
    event(f"{topic}: {result}")
    assert result in {"accepted", *REFUSALS}


TIMED: Final = sorted(topic for topic, value in BASE.items() if "ts" in value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(topic=st.sampled_from(TIMED), ts=timestamps, now=clocks, limit=limits)
def test_any_time_on_a_valid_message_is_refused_or_lands_in_range_through_the_domain(
    topic: str, ts: str, now: float | None, limit: TimeLimits
) -> None:
    result = outcome(
        TOPICS[topic], KEYS[topic], orjson.dumps({**BASE[topic], "ts": ts}), now, limit
    )
    event(result)
    assert result in {"accepted", "invalid_schema", "future_timestamp", "stale_timestamp"}


def test_a_year_9999_time_on_any_topic_is_refused_even_on_a_fresh_clock() -> None:
    for topic, step in TOPICS.items():
        if "ts" not in BASE[topic]:
            continue
        raw = orjson.dumps({**BASE[topic], "ts": "9999-12-31T00:00:00Z"})
        assert outcome(step, KEYS[topic], raw, None, TimeLimits()) == "future_timestamp", topic
