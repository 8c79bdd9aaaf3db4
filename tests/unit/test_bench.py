"""The pure parts of the benchmark: percentiles, ratios, histogram quantiles, watermark latencies,
metrics parsing, the table and the seeded data. Nothing here is timed: speed is never a test."""

from __future__ import annotations

import math

import orjson
import pytest
import shapely

from streams.devtools.bench import crossings, track_cost
from streams.devtools.bench.probes import Window, mean_window, measured_window
from streams.devtools.bench.replay import ReplayResult
from streams.devtools.bench.runner import build_rows
from streams.devtools.bench.support import (
    BENCH_EPOCH,
    MetricsText,
    Row,
    area_messages,
    bucket_delta,
    format_number,
    format_ratio,
    format_table,
    grid_areas,
    histogram_quantile,
    make_fleet,
    percentile,
    ping_messages,
    rate_between,
    ratio,
    saturation_note,
    square_area,
    verdict,
    watermark_latencies,
)
from streams.domain.areas_feed import decode_area
from streams.domain.roster import decode_roster
from streams.domain.validation import TimeLimits, decode_ping
from streams.simulator.geography import load_default_area_pack


def test_percentile_interpolates_between_closest_ranks_like_numpy() -> None:
    values = [4.0, 1.0, 3.0, 2.0]
    assert percentile(values, 0) == 1.0
    assert percentile(values, 100) == 4.0
    assert percentile(values, 50) == pytest.approx(2.5)
    assert percentile(list(map(float, range(1, 101))), 99) == pytest.approx(99.01)
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_none_and_out_of_range_is_an_error() -> None:
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1.0], 101)


def test_ratio_needs_a_positive_baseline() -> None:
    assert ratio(3.0, 4.0) == pytest.approx(0.75)
    assert ratio(3.0, 0.0) is None
    assert ratio(None, 4.0) is None
    assert ratio(3.0, None) is None
    assert ratio(3.0, math.inf) is None


def test_rate_between_uses_the_first_and_last_sample() -> None:
    assert rate_between([(10.0, 100.0), (11.0, 150.0), (12.0, 300.0)]) == pytest.approx(100.0)
    assert rate_between([(10.0, 100.0)]) is None
    assert rate_between([(10.0, 100.0), (10.0, 200.0)]) is None
    assert rate_between([(10.0, 100.0), (11.0, 100.0)]) is None


def test_histogram_quantile_interpolates_inside_the_bucket() -> None:
    buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(buckets, 0.5) == pytest.approx(0.1)
    assert histogram_quantile(buckets, 0.7) == pytest.approx(0.3)
    assert histogram_quantile(buckets, 0.25) == pytest.approx(0.05)
    assert histogram_quantile(buckets, 0.99) == pytest.approx(0.95)


def test_histogram_quantile_in_the_inf_bucket_is_the_last_bound_and_empty_is_none() -> None:
    assert histogram_quantile([(1.0, 1.0), (math.inf, 10.0)], 0.99) == 1.0
    assert histogram_quantile([(1.0, 0.0), (math.inf, 0.0)], 0.5) is None
    assert histogram_quantile([], 0.5) is None


def test_bucket_delta_subtracts_an_earlier_scrape() -> None:
    before = [(0.1, 5.0), (math.inf, 6.0)]
    after = [(0.1, 15.0), (math.inf, 20.0)]
    assert bucket_delta(after, before) == [(0.1, 10.0), (math.inf, 14.0)]


def test_watermark_latencies_take_the_first_observation_covering_each_offset() -> None:
    sends = [(0, 0, 10.0), (0, 1, 10.5), (1, 0, 10.2), (1, 1, 11.0)]
    observations = [
        (10.6, {0: 0}),
        (10.8, {0: 1, 1: 0}),
        (12.0, {0: 1, 1: 0}),
    ]
    latencies, missing = watermark_latencies(sends, observations)
    assert sorted(latencies) == pytest.approx(sorted([0.6, 0.3, 0.6]))
    assert missing == 1


def test_metrics_text_sums_matching_samples_and_reads_histograms() -> None:
    text = "\n".join(
        [
            "# HELP coverwatch_messages_consumed_total Input messages",
            "# TYPE coverwatch_messages_consumed_total counter",
            'coverwatch_messages_consumed_total{topic="airwave.pings"} 1200.0',
            'coverwatch_messages_consumed_total{topic="resources.roster"} 3.0',
            'coverwatch_ingest_latency_seconds_bucket{le="0.1",topic="airwave.pings"} 4.0',
            'coverwatch_ingest_latency_seconds_bucket{le="+Inf",topic="airwave.pings"} 5.0',
            "process_cpu_seconds_total 2.5",
        ]
    )
    metrics = MetricsText.parse(text)
    assert metrics.value("coverwatch_messages_consumed_total", topic="airwave.pings") == 1200.0
    assert metrics.value("coverwatch_messages_consumed_total") == 1203.0
    assert metrics.value("missing_total") == 0.0
    assert metrics.value("process_cpu_seconds_total") == 2.5
    assert metrics.buckets("coverwatch_ingest_latency_seconds", topic="airwave.pings") == [
        (0.1, 4.0),
        (math.inf, 5.0),
    ]


def test_number_and_ratio_formatting() -> None:
    assert format_number(3323.8, "/s") == "3,324 /s"
    assert format_number(12.345, "us") == "12.3 us"
    assert format_number(1.2345) == "1.23"
    assert format_number(0.0123, "s") == "0.0123 s"
    assert format_number(None) == "-"
    assert format_ratio(0.8712) == "0.87x"
    assert format_ratio(352.96) == "352.96x"
    assert format_ratio(0.004239) == "0.0042x"
    assert format_ratio(None) == "-"
    assert verdict(True) == "pass"
    assert verdict(False) == "FAIL"
    assert verdict(None) == "-"


def test_table_has_every_column_and_reports_what_was_not_measured() -> None:
    rows = [
        Row("end-to-end pings/s", 800.0, "/s", 1000.0, "no-op", ">= 0.8x no-op", True),
        Row("alert latency", None, "s", target="<= 5 s", note="not measured: no alerts"),
        Row("us per ping", 12.0, "us", 10.0, "40 areas", "<= 1.5x", True, note="CPU 9 us"),
    ]
    table = format_table(rows)
    lines = table.splitlines()
    assert lines[0].split() == ["measurement", "value", "baseline", "ratio", "target", "result"]
    assert set(lines[1].replace(" ", "")) == {"-"}
    assert "0.80x" in lines[2]
    assert "pass" in lines[2]
    assert "1,000 /s (no-op)" in lines[2]
    assert "not measured: no alerts" in lines[3]
    assert "1.20x" in lines[4]
    assert table.endswith("* us per ping: CPU 9 us")
    assert rows[0].as_json()["ratio"] == pytest.approx(0.8)
    assert rows[1].as_json()["result"] == "-"


def test_pings_are_valid_in_time_order_per_radio_and_inside_the_pack() -> None:
    pack = load_default_area_pack()
    fleet = make_fleet(50, pack)
    messages, moved = ping_messages(fleet, 175, BENCH_EPOCH, 5.0)
    assert len(messages) == 175
    limits = TimeLimits(max_future_skew_s=1e9, max_age_s=1e9)
    last: dict[str, float] = {}
    patrol = next(area for area in pack if area.kind == "other").geometry
    west, south, east, north = patrol.bounds
    for key, value in messages:
        fix = decode_ping(key, value, BENCH_EPOCH, limits)
        assert fix.ts > last.get(fix.issi, 0.0)
        last[fix.issi] = fix.ts
        assert west - 0.05 < fix.lon < east + 0.05
        assert south - 0.05 < fix.lat < north + 0.05
    assert set(last) == set(fleet.issis)
    assert messages[-1][1] != ping_messages(fleet, 175, BENCH_EPOCH, 5.0, seed=2)[0][-1][1]
    assert len(moved.issis) == 50


def test_roster_entries_decode() -> None:
    fleet = make_fleet(3, load_default_area_pack())
    for key, value in fleet.roster_messages():
        entry = decode_roster(key, value, TimeLimits())
        assert entry.issi == key.decode()
        assert orjson.loads(value)["on_duty"] is True


def test_grid_areas_tile_the_patrol_area_and_decode() -> None:
    pack = load_default_area_pack()
    cells = grid_areas(960, pack)
    assert len(cells) == 960
    assert len({cell.area_id for cell in cells}) == 960
    patrol = next(area for area in pack if area.kind == "other").geometry
    centre = patrol.centroid
    assert sum(shapely.contains_xy(cell.geometry, centre.x, centre.y) for cell in cells) >= 1
    for key, value in area_messages(cells[:5]):
        assert decode_area(key, value, TimeLimits()).area_id == key.decode()
    assert grid_areas(0, pack) == []


def test_grid_areas_beside_the_patrol_area_hold_none_of_it() -> None:
    pack = load_default_area_pack()
    patrol = next(area for area in pack if area.kind == "other").geometry
    cells = grid_areas(960, pack, beside=True)
    assert len(cells) == 960
    assert not any(cell.geometry.intersects(patrol) for cell in cells)
    assert shapely.box(*patrol.bounds).area == pytest.approx(
        sum(cell.geometry.area for cell in cells), rel=0.01
    )


def test_square_area_carries_its_policy() -> None:
    area = square_area("bench-alert", -1.89, 52.48, 400.0, {"default_max_gap_minutes": 1})
    assert area.kind == "impact"
    assert area.policy == {"default_max_gap_minutes": 1}
    assert shapely.contains_xy(area.geometry, -1.89, 52.48)


def test_a_ratio_warns_when_one_of_its_consumers_did_not_use_a_full_core() -> None:
    assert saturation_note({"worker": 0.99, "no-op agent": 1.02}) == (
        "CPU share of a core: worker 0.99, no-op agent 1.02"
    )
    assert "not CPU-bound" in saturation_note({"worker": 1.00, "no-op agent": 0.90})
    assert "not CPU-bound" in saturation_note({"10,000 areas": 0.62, "40 areas": 1.01})
    assert saturation_note({"worker": None, "no-op agent": 1.0}) == ""


def test_the_no_op_baseline_is_the_mean_of_the_runs_around_the_worker() -> None:
    before = Window(rate=12_000.0, messages=100, seconds=1.0, cpu={"noop": 1.0, "redis": 0.0})
    after = Window(rate=10_000.0, messages=80, seconds=1.0, cpu={"noop": 0.9}, note="time-boxed")

    both = mean_window([before, after])

    assert both.rate == 11_000.0
    assert both.cpu == {"noop": 0.95, "redis": 0.0}
    assert both.messages == 180
    assert both.note == "time-boxed"


def test_a_window_leaves_the_warm_up_out_and_keeps_its_rate_apart() -> None:
    samples = [
        (float(t), 100.0 * t * t if t < 5 else 2500.0 + 1000.0 * (t - 5), {}) for t in range(16)
    ]

    window = measured_window(samples, samples[-1][1], 20_000, warmup_s=5.0)
    whole = measured_window(samples, samples[-1][1], 20_000, warmup_s=0.0)
    short = measured_window(samples[:8], samples[7][1], 20_000, warmup_s=5.0)

    assert window.rate == 1000.0
    assert window.warmup_rate == 500.0
    assert whole.rate == samples[-1][1] / 15.0
    assert whole.warmup_rate is None
    assert short.warmup_rate is None  # read within twice the warm-up: measured whole
    assert short.rate == samples[7][1] / 7.0


def test_a_window_leaves_out_every_radios_first_fix_however_long_they_take() -> None:
    first_round = 8000
    samples = [
        (float(t), 800.0 * t if t <= 10 else 8000.0 + 2000.0 * (t - 10), {}) for t in range(21)
    ]

    window = measured_window(samples, samples[-1][1], 50_000, 5.0, warmup_messages=first_round)
    timed_only = measured_window(samples, samples[-1][1], 50_000, 5.0)
    never_over = measured_window(samples, samples[-1][1], 50_000, 5.0, warmup_messages=10**6)

    assert window.rate == 2000.0
    assert window.warmup_rate == 800.0
    assert timed_only.rate == (samples[-1][1] - samples[5][1]) / 15.0
    assert never_over.warmup_rate is None
    assert never_over.rate == samples[-1][1] / 20.0
    assert "not over" in never_over.note


def replay_result(label: str, areas: int, rate: float) -> ReplayResult:
    window = Window(rate=rate, cpu={"worker": 1.0, "presence": 0.5})
    return ReplayResult(
        label, 1000, areas, 1000, window, 0, 0, {}, False, {}, 0.0, {}, None, 0.0, None
    )


def test_the_largest_pack_and_its_baseline_are_means_of_replays_around_each_other() -> None:
    base = replay_result("base", 40, 10_000.0)
    scaling = {
        "areas": {40: base, 10_000: replay_result("areas10000", 10_000, 5_000.0)},
        "areas_again": {10_000: replay_result("areas10000-again", 10_000, 4_800.0)},
        "baselines": {0: replay_result("base-before", 40, 4_000.0), 1: base},
        "areas_away": {},
        "radios": {1000: base},
    }

    def row_of(scaling: dict[str, object]) -> Row:
        (row,) = [
            row
            for row in build_rows({"scaling": scaling})
            if row.measurement == "us per ping, 10,000 areas"
        ]
        return row

    both = row_of(scaling)
    without_baselines = row_of({**scaling, "baselines": {}})
    once = row_of({**scaling, "areas_again": {}})

    assert both.value == pytest.approx((200 + 1e6 / 4_800) / 2)  # about 204 us
    assert both.baseline == 175.0  # (250 + 100) / 2
    assert both.passed is True  # 204 us <= 1.2 x 175 us
    assert "mean of 2 replays in a row" in both.note
    assert "mean of the 40-area replays just before and after" in both.note
    assert without_baselines.baseline == 100.0
    assert without_baselines.passed is False
    assert (once.value, once.baseline) == (200.0, 175.0)


def _track_cost(extra_us: float, per_ping_us: float | None) -> dict[str, object]:
    part = {"areas": 40.0, "fixes": 100.0, "inferred": 3.0, "without_us": 20.0}
    return {
        "default": {**part, "with_us": 20.0 + extra_us},
        "grid": {**part, "with_us": 20.0 + 10 * extra_us},
        "per_ping_us": per_ping_us,
    }


def test_track_cost_passes_within_a_tenth_of_the_workers_time_per_ping() -> None:
    within, grid = track_cost.rows(_track_cost(extra_us=9.0, per_ping_us=100.0))
    beyond, _ = track_cost.rows(_track_cost(extra_us=11.0, per_ping_us=100.0))
    assert (within.value, within.baseline, within.passed) == (9.0, 100.0, True)
    assert beyond.passed is False
    assert grid.target == "info"
    assert grid.passed is None


def test_track_cost_without_the_throughput_step_is_not_judged() -> None:
    row, _ = track_cost.rows(_track_cost(extra_us=9.0, per_ping_us=None))
    assert row.passed is None
    assert "did not run" in row.note
    (missing,) = track_cost.rows(None)
    assert missing.value is None
    assert missing.note == "not run"


def test_track_cost_compares_the_same_fixes_with_and_without_crossings() -> None:
    pack = load_default_area_pack()
    result = crossings.compare(pack, radios=50, rounds=5)
    assert result["fixes"] == 250
    assert result["without_us"] > 0
    assert result["with_us"] > 0


def archive_replay(label: str, whole_rate: float, loop_share: float = 1.0) -> ReplayResult:
    """A replay whose steady window differs from the whole read: the archive rows use the
    whole."""
    result = replay_result(label, 40, 99_999.0)
    result.window.whole_rate = whole_rate
    result.window.whole_seconds = 10.0
    result.window.whole_cpu = {"worker": loop_share, "presence": 0.5}
    if label == "on":
        result.window.whole_cpu["archive"] = 0.2
    return result


def _archive_rows(
    off: tuple[float, float], on: tuple[float, float], loop_on: float = 1.0
) -> dict[str, Row]:
    runs = {
        "off": [archive_replay("off", rate) for rate in off],
        "on": [archive_replay("on", rate, loop_on) for rate in on],
    }
    sizes = [{"fixes": 4000, "all": 6000, "archive_cpu_s": 2.5}] * 2
    result = {"runs": runs, "sizes": sizes, "pings": 1000}
    return {row.measurement: row for row in build_rows({"archive": result})}


def test_the_archive_costs_at_most_a_tenth_of_the_rate_each_side_a_mean_of_two() -> None:
    cheap = _archive_rows(off=(1000.0, 3000.0), on=(1900.0, 1900.0))
    dear = _archive_rows(off=(2000.0, 2000.0), on=(1700.0, 1800.0))
    rate = "pings/s with the archive on"
    assert (cheap[rate].value, cheap[rate].baseline, cheap[rate].passed) == (1900.0, 2000.0, True)
    assert (dear[rate].value, dear[rate].passed) == (1750.0, False)
    assert "2.0 of 2.5 s" in cheap[rate].note
    assert cheap["archive bytes per ping"].value == 4.0


def test_the_archive_may_add_at_most_a_tenth_to_the_event_loops_cpu_per_ping() -> None:
    loop = "event-loop CPU per ping with the archive on"
    same = _archive_rows(off=(2000.0, 2000.0), on=(2000.0, 2000.0), loop_on=1.05)
    dear = _archive_rows(off=(2000.0, 2000.0), on=(2000.0, 2000.0), loop_on=1.2)
    assert (same[loop].value, same[loop].baseline, same[loop].passed) == (525.0, 500.0, True)
    assert dear[loop].passed is False
    everything = same["worker CPU per ping with the archive on"]
    assert (everything.value, everything.baseline) == (875.0, 750.0)


def test_the_archive_rows_say_when_the_step_did_not_run() -> None:
    rows = {row.measurement: row for row in build_rows({})}
    assert rows["pings/s with the archive on"].value is None
    assert rows["archive bytes per ping"].value is None


def _page(render_s: float, answers: list[float], areas: int) -> dict[str, object]:
    return {"areas": areas, "render_s": render_s, "events_per_s": 150.0, "answers_s": answers}


def test_the_live_page_rows_judge_the_first_render_and_the_answers_under_updates() -> None:
    from streams.devtools.bench import page_render

    usable = page_render.rows(
        {"40": _page(1.0, [0.01] * 20, 40), "10000": _page(12.0, [0.05] * 19 + [0.4], 10000)}
    )
    assert [(r.value, r.passed) for r in usable] == [(12.0, True), (pytest.approx(0.0675), True)]
    slow = page_render.rows(
        {"40": _page(1.0, [0.01] * 20, 40), "10000": _page(25.0, [2.0] * 20, 10000)}
    )
    assert [r.passed for r in slow] == [False, False]
    (missing,) = page_render.rows({"error": "RuntimeError: no chromium"})
    assert missing.value is None
    assert "no chromium" in missing.note
