"""Area crime and planted effects: the simulator plants what the evaluation must find, keeps the
ground truth of it, and changes nothing when no effect is asked for.

Statistical bounds come from the counts themselves: a Poisson count N has standard deviation
sqrt(N), and ln(RES) has variance 1/T0 + 1/T1 + 1/C0 + 1/C1. Every check allows four standard
deviations (a chance below 1 in 10,000 for a correct simulator to fail with another seed);
the seeds are fixed, so a pass is repeatable.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from functools import cache

import numpy as np
import orjson
import pytest
import shapely
from shapely.geometry import Polygon, box

import schemas
from streams.domain.areas import AreaDefinition, area_to_feature
from streams.simulator.effects import QualifyingPresence, displacement_rings
from streams.simulator.geography import LocalProjection, load_default_area_pack
from streams.simulator.places import build_places
from streams.simulator.recording import record_to_jsonl
from streams.simulator.truth import GroundTruth
from streams.simulator.world import Record, SimulationOptions, generate, generate_with_truth

SIGMAS = 4.0
MIDNIGHT = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
BASELINE_DAYS, EFFECT_DAYS = (1,), (2,)
PLANTED = {
    "seed": 17, "officers": 30, "start": MIDNIGHT, "duration_seconds": 2 * 86400.0,
    "neglected_areas": (), "vehicle_interval_s": (30.0, 60.0), "handheld_interval_s": (60.0, 120.0),
    "heartbeat_interval_s": 300.0, "incident_rate_per_hour": 0.5, "crime_rate_per_hour": 0.0,
    "area_crimes_per_day": 60.0, "crime_call_share": 0.02, "effect_from_day": 2,
    "deterrence_s": 7200.0, "outlier_rate": 0.0, "radio_off_rate": 0.0,
    "out_of_coverage_rate": 0.0, "duplicate_rate": 0.0, "stuck_device_rate": 0.0,
}  # fmt: skip
DETERRENCE, DISPLACEMENT = 0.8, 0.5
"""Planted in one run; displacement moves prevented crimes out of Impact Areas, so it leaves
their counts as deterrence alone would."""


@cache
def areas() -> tuple[AreaDefinition, ...]:
    return tuple(load_default_area_pack())


@cache
def areas_without_rings() -> tuple[AreaDefinition, ...]:
    """The pack's Impact, comparison and patrol areas: the pack before it shipped rings."""
    return tuple(area for area in areas() if "ring_of" not in area.properties)


@cache
def simulated(
    deterrence_share: float, displacement_share: float
) -> tuple[list[Record], GroundTruth]:
    """Two days, the effect from day 2, over the default pack; every record and the truth."""
    options = SimulationOptions(
        **PLANTED,  # type: ignore[arg-type]
        deterrence_share=deterrence_share,
        displacement_share=displacement_share,
    )
    records, truth = generate_with_truth(options, areas())
    listed = list(records)
    assert truth is not None
    return listed, truth


def ln_res_and_sd(truth: GroundTruth) -> tuple[float, float]:
    """ln of (T1 C0) / (T0 C1), Impact against comparison areas, and its Poisson sd."""
    t0, t1 = (truth.total("crimes", "impact", days) for days in (BASELINE_DAYS, EFFECT_DAYS))
    c0, c1 = (truth.total("crimes", "comparison", days) for days in (BASELINE_DAYS, EFFECT_DAYS))
    return math.log(t1 * c0 / (t0 * c1)), math.sqrt(1 / t0 + 1 / t1 + 1 / c0 + 1 / c1)


def digest(records: Sequence[Record] | object) -> str:
    return hashlib.sha256(b"".join(record_to_jsonl(r) for r in records)).hexdigest()  # type: ignore[attr-defined]


def test_without_area_crime_or_an_effect_day_the_output_is_what_it_always_was() -> None:
    """Digests of runs recorded before the planted effects existed (recordings depend on them).
    The area definitions are left out: since the archive, they carry ``valid_from`` (the start),
    checked on its own below."""
    short = SimulationOptions(seed=3, officers=120, duration_seconds=1800, malformed_rate=0.01)
    faulty = SimulationOptions(
        seed=21, officers=60, duration_seconds=6 * 3600.0, outlier_rate=0.01, duplicate_rate=0.02
    )
    pack = areas_without_rings()
    assert digest(without_areas(generate(short, pack))) == (
        "574c440b2096139a4fd75b8a1ed55299c892eab5120fb1772011350f75e91d0b"
    )
    assert digest(without_areas(generate(faulty, pack))) == (
        "dc6c866f6424cfbf6dfdd58efa80a3067983d1b551e2bf9ed6fcaa029d0e5214"
    )
    records, truth = generate_with_truth(short, pack)
    assert truth is None
    assert digest(records) == digest(generate(short, pack))


def without_areas(records: Iterable[Record]) -> list[Record]:
    return [record for record in records if record.topic != "areas.definitions"]


def test_area_definitions_are_the_pack_valid_from_the_start() -> None:
    options = SimulationOptions(seed=3, officers=5, duration_seconds=600)
    pack = areas_without_rings()
    opening = [r for r in generate(options, pack) if r.topic == "areas.definitions"]
    assert [record.key for record in opening] == [area.area_id for area in pack]
    for record, area in zip(opening, pack, strict=True):
        assert record.value is not None
        published = orjson.loads(record.value)["properties"]
        assert published.pop("valid_from") == "2026-11-21T17:00:00.000Z"
        assert published == area_to_feature(area)["properties"]


def test_equal_options_with_planted_effects_give_identical_bytes() -> None:
    options = SimulationOptions(
        **(PLANTED | {"duration_seconds": 4 * 3600.0, "effect_from_day": 1}),  # type: ignore[arg-type]
        deterrence_share=0.5,
        displacement_share=0.5,
    )
    assert digest(generate(options, areas())) == digest(generate(options, areas()))


def test_deterrence_lowers_impact_crime_by_the_planted_share_of_the_deterred_time() -> None:
    _, truth = simulated(DETERRENCE, DISPLACEMENT)
    deterred_share = truth.deterred_share("impact", EFFECT_DAYS)
    assert deterred_share > 0.2, "too little dose for the test to mean anything"
    assert truth.deterred_share("impact", BASELINE_DAYS) == 0.0
    assert truth.total("deterred_s", "comparison", EFFECT_DAYS) == 0.0
    ln_res, sd = ln_res_and_sd(truth)
    expected = math.log(1 - DETERRENCE * deterred_share)
    assert abs(ln_res - expected) < SIGMAS * sd
    assert ln_res + 1.96 * sd < 0.0, "the planted fall is large enough to be found"


def test_prevented_crimes_are_the_planted_share_of_the_deterred_hazard() -> None:
    _, truth = simulated(DETERRENCE, DISPLACEMENT)
    rate_per_s = PLANTED["area_crimes_per_day"] / 86400  # type: ignore[operator]
    hazard = rate_per_s * truth.total("deterred_exposure_s", "impact", EFFECT_DAYS)
    expected = DETERRENCE * hazard
    prevented = truth.total("prevented", "impact", EFFECT_DAYS)
    assert abs(prevented - expected) < SIGMAS * math.sqrt(expected)
    assert truth.total("prevented", "comparison", EFFECT_DAYS + BASELINE_DAYS) == 0.0


def test_no_planted_effect_leaves_no_difference_beyond_noise() -> None:
    _, truth = simulated(0.0, 0.0)
    ln_res, sd = ln_res_and_sd(truth)
    assert abs(ln_res) < SIGMAS * sd
    assert truth.total("prevented", "impact", EFFECT_DAYS) == 0.0


def test_displaced_crimes_land_in_the_rings() -> None:
    _, truth = simulated(DETERRENCE, DISPLACEMENT)
    prevented = truth.total("prevented", "impact", EFFECT_DAYS)
    displaced = truth.total("displaced_in", "ring", EFFECT_DAYS)
    binomial_sd = math.sqrt(prevented * DISPLACEMENT * (1 - DISPLACEMENT))
    assert abs(displaced - DISPLACEMENT * prevented) < SIGMAS * binomial_sd
    rings_of_impact = {r for r, area in truth.ring_of.items() if area.startswith("ia-")}
    displaced_to = truth.per_place("displaced_in", EFFECT_DAYS)
    assert {ring for ring, count in displaced_to.items() if count} <= rings_of_impact
    ring_before, ring_after = (
        truth.total("crimes", "ring", d) for d in (BASELINE_DAYS, EFFECT_DAYS)
    )
    assert abs(ring_after - ring_before - displaced) < SIGMAS * math.sqrt(ring_before + ring_after)


def test_ground_truth_counts_the_crimes_on_the_topic() -> None:
    """Each area's crimes on ``crimes.recorded`` are its truth, and every other crime lies in a
    ring; crimes recorded when an ordinary incident closes (not reported by a call at the time
    of the crime) are not the area process's."""
    records, truth = simulated(DETERRENCE, DISPLACEMENT)
    values = [orjson.loads(r.value or b"{}") for r in records if r.topic == "crimes.recorded"]
    opened = {
        event["incident_id"]: event["ts"]
        for event in (orjson.loads(r.value or b"{}") for r in records if r.topic == "cad.incidents")
        if event["event"] == "opened"
    }
    points = [
        (value["lon"], value["lat"])
        for value in values
        if "incident_id" not in value or opened[value["incident_id"]] == value["ts"]
    ]
    lon, lat = np.array(points).T
    in_any_area = np.zeros(len(points), dtype=bool)
    crimes = truth.per_place("crimes", BASELINE_DAYS + EFFECT_DAYS)
    for area in areas():
        if area.kind in ("impact", "comparison"):
            inside = shapely.contains_xy(area.geometry, lon, lat)
            assert int(inside.sum()) == crimes[area.area_id]
            in_any_area |= inside
    ring_crimes = sum(crimes[ring] for ring in truth.ring_of)
    assert int((~in_any_area).sum()) == ring_crimes


def test_directed_patrols_raise_qualifying_visits_in_impact_areas_from_the_effect_day() -> None:
    _, truth = simulated(0.0, 0.0)
    visits = {
        (kind, days): truth.total("qualifying_visits", kind, days)
        for kind in ("impact", "comparison")
        for days in (BASELINE_DAYS, EFFECT_DAYS)
    }
    impact_rise = visits["impact", EFFECT_DAYS] / visits["impact", BASELINE_DAYS]
    comparison_rise = visits["comparison", EFFECT_DAYS] / visits["comparison", BASELINE_DAYS]
    assert impact_rise > 1.2 * comparison_rise


def test_a_stay_qualifies_after_the_qualifying_time_inside() -> None:
    square = box(0.0, 0.0, 100.0, 100.0)
    presence = QualifyingPresence([square], officers=2, qualifying_s=600.0)
    x, y, on_duty = np.array([50.0, 500.0]), np.array([50.0, 50.0]), np.array([True, True])
    reached_at = []
    for t0 in range(0, 900_000, 30_000):
        qualifying, reached = presence.step(t0, x, y, on_duty)
        if reached[0]:
            reached_at.append(t0)
        assert bool(qualifying[0]) == (t0 >= 600_000)
    assert reached_at == [600_000]
    qualifying, _ = presence.step(900_000, x, y, np.array([False, True]))
    assert not qualifying[0], "an officer off duty is nowhere"


def test_rings_surround_their_area_clear_of_every_measured_area() -> None:
    pack = list(areas_without_rings())
    places = build_places(np.random.default_rng(0), pack, set())
    targets = [i for i, area in enumerate(pack) if area.kind in ("impact", "comparison")]
    rings = displacement_rings(pack, targets, places)
    local = [places.projection.geometry_to_local(pack[i].geometry) for i in targets]
    for (ring_id, ring), area, index in zip(rings, local, targets, strict=True):
        assert ring_id == f"{pack[index].area_id}-ring"
        assert ring.area > 0
        assert area.buffer(250.0 + 1.0).contains(ring)
        assert all(ring.intersection(other).area < 1e-6 for other in local)


def test_a_ring_given_in_the_pack_is_used_as_it_is() -> None:
    projection = LocalProjection(-1.89, 52.48)
    inner = projection.geometry_to_lonlat(box(0.0, 0.0, 400.0, 400.0))
    given = projection.geometry_to_lonlat(
        Polygon(
            box(-100.0, -100.0, 500.0, 500.0).exterior,
            [box(0.0, 0.0, 400.0, 400.0).exterior.coords],
        )
    )
    pack = [
        AreaDefinition("ia-x", "X", "impact", inner),
        AreaDefinition("ia-x-band", "X band", "other", given, None, {"ring_of": "ia-x"}),
    ]
    places = build_places(np.random.default_rng(0), pack, set())
    [(ring_id, ring)] = displacement_rings(pack, [0], places)
    assert ring_id == "ia-x-band"
    expected = places.projection.geometry_to_local(given)
    assert ring.symmetric_difference(expected).area < 1.0


def test_a_planted_effect_needs_an_effect_day_and_area_crime() -> None:
    with pytest.raises(ValueError, match="needs effect_from_day and area_crimes_per_day"):
        SimulationOptions(deterrence_share=0.3, area_crimes_per_day=10.0)
    with pytest.raises(ValueError, match="deterrence_share must be in"):
        SimulationOptions(deterrence_share=1.5, area_crimes_per_day=1.0, effect_from_day=2)
    with pytest.raises(ValueError, match="effect_from_day"):
        SimulationOptions(effect_from_day=0)


def test_area_crimes_and_the_calls_reporting_them_follow_the_contracts() -> None:
    """Every crime and incident message is valid; a crime reported by a call names an
    incident opened at its time, and such calls are ``crime_call_share`` of the area crimes
    (crimes recorded when an ordinary incident closes are not area crimes)."""
    share = 0.5
    planted = PLANTED | {"duration_seconds": 6 * 3600.0, "effect_from_day": 1}
    options = SimulationOptions(
        **(planted | {"crime_call_share": share}),  # type: ignore[arg-type]
        deterrence_share=0.5,
        displacement_share=0.5,
    )
    opened: dict[str, str] = {}
    called = uncalled = 0
    for record in generate(options, areas()):
        if record.topic not in ("crimes.recorded", "cad.incidents"):
            continue
        value = orjson.loads(record.value or b"")
        schemas.assert_valid(record.topic, value)
        if value.get("event") == "opened":
            opened[value["incident_id"]] = value["ts"]
        elif record.topic == "crimes.recorded" and "incident_id" not in value:
            uncalled += 1
        elif record.topic == "crimes.recorded":
            called += opened[value["incident_id"]] == value["ts"]
    area_crimes = called + uncalled
    assert area_crimes > 500
    assert abs(called - share * area_crimes) < SIGMAS * math.sqrt(area_crimes * share * (1 - share))


def test_rings_in_the_pack_change_nothing_but_the_definitions() -> None:
    """A pack that ships rings simulates the same force as the pack without them."""
    pack = list(areas_without_rings())
    ring = AreaDefinition(
        "ia-01-ring",
        "ring",
        "other",
        pack[0].geometry.buffer(0.003).difference(pack[0].geometry),
        None,
        {"ring_of": "ia-01"},
    )
    options = SimulationOptions(seed=4, officers=60, duration_seconds=3600.0)
    with_ring = [r for r in generate(options, [*pack, ring]) if r.topic != "areas.definitions"]
    without = [r for r in generate(options, pack) if r.topic != "areas.definitions"]
    assert with_ring == without
