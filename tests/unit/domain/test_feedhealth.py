"""How much of the feed is there at a judged instant: who was on duty, who reported, ingest lag."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.domain.feedhealth import (
    DutyRoster,
    FeedHealth,
    feed_health_at,
    ingest_lag_s,
    ingest_lagging,
    reporting_minute,
    reporting_minutes,
)
from streams.domain.joins import BEGINNING, RosterVersion

T = 1_795_280_400.0  # a whole minute (2026-11-21T14:20:00Z)
MAX_GAP_S = 300.0


def on(since: float = BEGINNING) -> RosterVersion:
    return RosterVersion(since, {"on_duty": True, "callsign": "A1"})


def off(since: float = BEGINNING) -> RosterVersion:
    return RosterVersion(since, {"on_duty": False, "callsign": "A1"})


def reports(*fixes: tuple[str, float]) -> dict[int, set[str]]:
    """minute -> radios, as the presence agent keeps them."""
    kept: dict[int, set[str]] = {}
    for issi, ts in fixes:
        kept.setdefault(reporting_minute(ts), set()).add(issi)
    return kept


def test_a_whole_minute_instant_counts_fixes_in_the_max_gap_before_it() -> None:
    minutes = reporting_minutes(T, MAX_GAP_S)
    assert list(minutes) == [reporting_minute(T - 300 + 60 * k) for k in range(5)]
    duty = DutyRoster({"r1": (on(),), "r2": (on(),), "r3": (on(),)})
    kept = reports(("r1", T - 300), ("r2", T - 0.001), ("r3", T))
    assert feed_health_at(duty, kept, T, MAX_GAP_S) == FeedHealth(on_duty=3, reporting=2)
    earlier = reports(("r1", T - 300.001))
    assert feed_health_at(duty, earlier, T, MAX_GAP_S) == FeedHealth(3, 0)


def test_half_the_radios_silent_report_half() -> None:
    radios = [f"r{n}" for n in range(10)]
    duty = DutyRoster({issi: (on(),) for issi in radios})
    kept = reports(*((issi, T - 30) for issi in radios[:5]))
    health = feed_health_at(duty, kept, T, MAX_GAP_S)
    assert (health.on_duty, health.reporting, health.share) == (10, 5, 0.5)


def test_a_window_reaching_before_monitoring_began_is_not_measured() -> None:
    duty = DutyRoster({"r1": (on(),), "r2": (on(),)})
    kept = reports(("r1", T - 30))
    began = T - 120.0  # the feed's first record: the window's first three minutes are unseen
    assert feed_health_at(duty, kept, T, MAX_GAP_S, began) == FeedHealth(on_duty=2, reporting=None)
    assert feed_health_at(duty, {}, T, MAX_GAP_S, began).share is None
    whole_window = T - MAX_GAP_S + 59.0  # began within the window's first minute
    assert feed_health_at(duty, kept, T, MAX_GAP_S, whole_window) == FeedHealth(2, 1)


def test_on_duty_is_the_roster_version_valid_at_the_instant() -> None:
    duty = DutyRoster(
        {
            "booked_on": (off(), on(T - 600)),
            "booked_off": (on(), off(T - 60)),
            "later": (on(T + 600),),  # older than its only version: that version (as the join)
            "never": (off(),),
        }
    )
    assert duty.on_duty_at(T) == {"booked_on", "later"}
    assert duty.on_duty_at(T - 900) == {"booked_off", "later"}


def test_a_radio_that_reported_but_is_off_duty_at_the_instant_does_not_count() -> None:
    duty = DutyRoster({"r1": (on(), off(T - 60)), "r2": (on(),), "stranger": ()})
    kept = reports(("r1", T - 120), ("r2", T - 120), ("stranger", T - 10))
    assert feed_health_at(duty, kept, T, MAX_GAP_S) == FeedHealth(on_duty=1, reporting=1)


def test_nobody_on_duty_or_not_measured_has_no_share() -> None:
    assert feed_health_at(DutyRoster({}), {}, T, MAX_GAP_S).share is None
    assert FeedHealth(on_duty=4, reporting=None).share is None


fixes = st.lists(
    st.tuples(st.sampled_from([f"r{n}" for n in range(8)]), st.floats(T - 900, T + 120)),
    max_size=40,
)


@given(fixes=fixes, cut=st.integers(0, 40))
def test_the_count_is_a_function_of_the_fixes_whatever_batches_and_replays(
    fixes: list[tuple[str, float]], cut: int
) -> None:
    """Kept minute by minute with idempotent set adds: two batches, a replayed batch or the
    fixes in another order give the same count."""
    duty = DutyRoster({f"r{n}": (on(),) for n in range(6)})
    whole = reports(*fixes)
    batched = reports(*fixes[:cut])
    for minute, radios in reports(*fixes[cut:], *fixes[:cut]).items():
        batched.setdefault(minute, set()).update(radios)
    expected = {
        issi for issi, ts in fixes if T - MAX_GAP_S <= ts < T and issi in duty.on_duty_at(T)
    }
    assert feed_health_at(duty, whole, T, MAX_GAP_S).reporting == len(expected)
    assert feed_health_at(duty, batched, T, MAX_GAP_S) == feed_health_at(duty, whole, T, MAX_GAP_S)


def test_ingest_lag_is_the_slowest_partition_behind_the_clock() -> None:
    assert ingest_lag_s(T, [T - 5, None, T - 400, T]) == 400
    assert ingest_lag_s(T, [T + 3]) == 0.0
    assert ingest_lag_s(None, [T]) is None
    assert ingest_lag_s(T, [None, None]) is None
    assert (ingest_lagging(400, 300), ingest_lagging(300, 300), ingest_lagging(None, 1)) == (
        True,
        False,
        False,
    )
