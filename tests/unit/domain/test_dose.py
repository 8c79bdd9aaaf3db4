"""Behaviour of dose accounting: minute buckets and rolling windows."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streams.domain.dose import (
    dose_split,
    minute_buckets,
    parse_split,
    parse_visit_split,
    visit_split,
)
from streams.domain.tracks import DoseAccrued

T0 = 1_763_700_000.0  # a whole minute: 29_395_000
M0 = 29_395_000


def dose(start_s: float, end_s: float, seconds: float | None = None) -> DoseAccrued:
    return DoseAccrued(
        area_id="A",
        start=T0 + start_s,
        end=T0 + end_s,
        role="response",
        mode="foot",
        activity="proactive",
        seconds=end_s - start_s if seconds is None else seconds,
        unit="Birmingham East NPT",
    )


def key(minute: int) -> tuple[str, int, str, str, str, str, bool]:
    return ("A", M0 + minute, "response", "foot", "proactive", "Birmingham East NPT", False)


@pytest.mark.parametrize(
    ("segment", "expected"),
    [
        (dose(10, 40), {key(0): 30}),
        (dose(50, 70), {key(0): 10, key(1): 10}),
        (dose(30, 150), {key(0): 30, key(1): 60, key(2): 30}),
        (dose(60, 120), {key(1): 60}),
        (dose(50, 70, seconds=-20), {key(0): -10, key(1): -10}),
        (dose(30, 30, seconds=0), {key(0): 0}),
    ],
)
def test_dose_splits_across_utc_minutes(
    segment: DoseAccrued, expected: dict[object, float]
) -> None:
    assert minute_buckets(segment) == pytest.approx(expected)


@given(
    start_s=st.floats(-1e5, 1e5),
    length_s=st.floats(0, 600),
    sign=st.sampled_from([1, -1]),
)
def test_minute_buckets_sum_to_the_dose_with_its_sign(
    start_s: float, length_s: float, sign: int
) -> None:
    segment = dose(start_s, start_s + length_s, seconds=sign * length_s)
    buckets = minute_buckets(segment)
    assert sum(buckets.values()) == pytest.approx(segment.seconds, abs=1e-6)
    assert all(value * sign >= 0 for value in buckets.values())
    minutes = [k[1] for k in buckets]
    assert min(minutes) == int(segment.start // 60)
    assert max(minutes) <= int(segment.end // 60)


def test_correction_cancels_the_dose_it_corrects() -> None:
    original, correction = minute_buckets(dose(50, 170)), minute_buckets(dose(50, 170, -120))
    assert original.keys() == correction.keys()
    assert all(original[k] + correction[k] == pytest.approx(0) for k in original)


def test_inferred_dose_has_buckets_of_its_own() -> None:
    observed = minute_buckets(dose(10, 40))
    inferred = minute_buckets(replace(dose(10, 40), inferred=True))
    assert observed.keys().isdisjoint(inferred.keys())
    assert [k[-1] for k in inferred] == [True]


@pytest.mark.parametrize(
    ("split", "parts"),
    [
        ("response|foot|proactive|East NPT", ("response", "foot", "proactive", "East NPT", False)),
        (
            "response|vehicle|reactive|East NPT|inferred",
            ("response", "vehicle", "reactive", "East NPT", True),
        ),
        ("response|foot|proactive|A|B", ("response", "foot", "proactive", "A|B", False)),
        ("response|foot|proactive|A|B|inferred", ("response", "foot", "proactive", "A|B", True)),
        # Stored before units were kept: the unknown unit, observed.
        ("neighbourhood|foot|proactive", ("neighbourhood", "foot", "proactive", "unknown", False)),
    ],
)
def test_window_splits_read_back_with_their_unit_and_evidence(
    split: str, parts: tuple[str, str, str, str, bool]
) -> None:
    assert parse_split(split) == parts
    if split.count("|") >= 3:
        assert dose_split(*parts) == split


def test_day_visit_splits_have_no_unit() -> None:
    assert visit_split("response", "foot", "proactive", False) == "response|foot|proactive"
    assert visit_split("response", "foot", "proactive", True) == "response|foot|proactive|inferred"
    assert parse_visit_split("response|foot|proactive|inferred") == (
        "response",
        "foot",
        "proactive",
        True,
    )
    assert parse_visit_split("response|foot|proactive") == ("response", "foot", "proactive", False)
