"""The pure parts of the memory soak: the fitted line, its noise, the levelling-off rule, which
Redis state is kept by time, and the rows. Nothing here runs a service."""

from __future__ import annotations

import math
from dataclasses import asdict

import orjson
import pytest

from streams.devtools.bench.soak import (
    FLOOR_MB_PER_MIN,
    MB,
    SoakSample,
    Trend,
    applied_rate,
    cpu_shares,
    kind_growth,
    retained_by_design,
    second_half,
    soak_chunk,
    soak_rows,
    trend,
    trends,
)
from streams.devtools.bench.support import make_fleet
from streams.simulator.geography import load_default_area_pack


def sample(
    at_s: float,
    worker_mb: float = 100.0,
    *,
    by_kind: dict[str, int] | None = None,
    redis_used: int = 50 * MB,
    sent: int = 0,
    applied: int = 0,
) -> SoakSample:
    return SoakSample(
        at_s=at_s,
        worker_rss=int(worker_mb * MB),
        presence_rss=60 * MB,
        redis_used=redis_used,
        redis_rss=80 * MB,
        broker_rss=None,
        by_kind=by_kind or {},
        pings_sent=sent,
        records_sent=sent,
        records_applied=applied,
    )


def line(slope: float, sd: float, span_min: float = 10.0) -> Trend:
    return Trend(slope, sd, span_min, 60, 100.0, 100.0 + slope * span_min)


def test_trend_of_a_straight_line_is_its_slope_with_no_noise() -> None:
    points = [(60.0 * minute, (200 + 0.5 * minute) * MB) for minute in range(11)]
    found = trend(points)
    assert found is not None
    assert found.slope_mb_per_min == pytest.approx(0.5)
    assert found.residual_sd_mb == pytest.approx(0.0, abs=1e-9)
    assert found.span_min == pytest.approx(10.0)
    assert found.growth_mb == pytest.approx(5.0)
    assert found.first_mb == pytest.approx(200.0)
    assert found.last_mb == pytest.approx(205.0)


def test_trend_noise_is_the_residual_standard_deviation_about_the_line() -> None:
    # 100 MB +-1 MB in a pattern with no trend: the line is flat, each residual 1 MB, and the
    # standard deviation has n - 2 degrees of freedom
    offsets = [-1, 1, 1, -1, -1, 1, 1, -1]
    points = [(10.0 * i, (100 + offset) * MB) for i, offset in enumerate(offsets)]
    found = trend(points)
    assert found is not None
    assert found.slope_mb_per_min == pytest.approx(0.0, abs=1e-9)
    assert found.residual_sd_mb == pytest.approx(math.sqrt(8 / 6))


def test_trend_needs_three_points_spread_in_time() -> None:
    assert trend([(0.0, MB), (10.0, 2 * MB)]) is None
    assert trend([(5.0, MB), (5.0, 2 * MB), (5.0, 3 * MB)]) is None


def test_slope_under_the_floor_levels_off_even_without_noise() -> None:
    assert line(FLOOR_MB_PER_MIN, 0.0).levels_off
    assert not line(FLOOR_MB_PER_MIN * 1.5, 0.0).levels_off


def test_growth_within_twice_the_noise_levels_off() -> None:
    # 0.3 MB/min over 10 minutes is 3 MB: within 2 sd of 1.5 MB, beyond 2 sd of 1.4 MB
    assert line(0.3, 1.5).levels_off
    assert not line(0.3, 1.4).levels_off


def test_shrinking_memory_levels_off() -> None:
    assert line(-2.0, 0.0).levels_off


def test_state_kept_by_time_is_dose_minutes_visits_visit_times_and_closed_incidents() -> None:
    kept = ["dose:m:*", "dose:minutes", "visits:*", "visit_parts:*", "vday:*", "qends:*"]
    kept += ["vends:*", "vstarts:*", "closed", "patrol:m:*", "trail:*", "reporting:*"]
    assert all(retained_by_design(kind) for kind in [*kept, "qends:patrol-area"])
    per_radio = ["tracks", "lastfix", "geo", "roster", "dose:total", "dose:out", "present"]
    per_radio += ["vlast"]
    assert not any(retained_by_design(kind) for kind in per_radio)


def test_second_half_starts_at_the_middle_of_the_soak() -> None:
    samples = [sample(10.0 * i) for i in range(7)]
    assert [s.at_s for s in second_half(samples)] == [30.0, 40.0, 50.0, 60.0]
    assert second_half([]) == []


def test_trends_ignore_the_first_half_warm_up() -> None:
    # grows fast in the first half (warm-up), flat in the second
    samples = [sample(60.0 * m, 100 + 10 * min(m, 5)) for m in range(11)]
    found = trends(samples)["worker_rss"]
    assert found is not None
    assert found.slope_mb_per_min == pytest.approx(0.0, abs=1e-9)
    assert found.levels_off


def test_redis_figure_leaves_out_the_state_kept_by_time() -> None:
    samples = [
        sample(60.0 * m, by_kind={"visits:*": m * MB, "tracks": 5 * MB}, redis_used=(40 + m) * MB)
        for m in range(11)
    ]
    found = trends(samples)
    assert found["redis_other"] is not None
    assert found["retained"] is not None
    assert found["redis_other"].slope_mb_per_min == pytest.approx(0.0, abs=1e-9)
    assert found["retained"].slope_mb_per_min == pytest.approx(1.0)
    assert kind_growth(samples) == {"visits:*": pytest.approx(1.0), "tracks": 0.0}


def test_applied_rate_compares_applied_with_sent_over_the_second_half() -> None:
    samples = [sample(10.0 * i, sent=2700 * 10 * i, applied=2600 * 10 * i) for i in range(5)]
    applied, sent = applied_rate(samples)
    assert applied == pytest.approx(2600.0)
    assert sent == pytest.approx(2700.0)


def test_rows_judge_each_figure_and_the_keeping_up() -> None:
    samples = [
        asdict(sample(60.0 * m, 100 + 0.5 * m, sent=2700 * 60 * m, applied=2700 * 60 * m))
        for m in range(11)
    ]
    rows = {row.measurement: row for row in soak_rows({"samples": samples})}
    assert rows["soak: worker event loop RSS"].passed is False
    assert rows["soak: worker event loop RSS"].value == pytest.approx(0.5)
    assert rows["soak: presence process RSS"].passed is True
    assert rows["soak: Redis state kept by time"].passed is None
    assert rows["soak: records applied per s"].passed is True


def test_rows_say_why_the_soak_was_not_measured() -> None:
    (row,) = soak_rows({"error": "RuntimeError: the soak worker died"})
    assert row.value is None
    assert "worker died" in row.note
    assert "not run" in soak_rows(None)[0].note


def test_cpu_shares_are_cores_used_over_the_second_half() -> None:
    samples = [sample(10.0 * i) for i in range(5)]
    for i, each in enumerate(samples):
        each.cpu_s = {"worker": 0.8 * 10 * i, "broker": None if i == 4 else 1.0 * i}
    assert cpu_shares(samples) == {"worker": pytest.approx(0.8)}


def test_a_soak_chunk_sends_each_radio_once_a_round_at_the_rate_asked() -> None:
    fleet = make_fleet(100, load_default_area_pack())
    messages, after = soak_chunk(fleet, 1_800_000_000.0, 1, 50)
    stamps = [orjson.loads(value)["ts"] for _, value in messages]
    assert len(messages) == 200  # two rounds of the fleet
    assert [key for key, _ in messages[:100]] == [key for key, _ in messages[100:]]
    assert stamps[0].endswith("08:00:00.000Z")
    assert stamps[-1].endswith("08:00:03.980Z")  # 200 pings at 50 a second
    assert after is not fleet
