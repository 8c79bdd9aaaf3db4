"""Rolling-window sums as read back from Redis: each field's total less what left the window."""

from __future__ import annotations

from streams.state import DemandView, PresenceView, window_sums

WINDOWS = (900, 3600)


def test_a_window_holds_the_total_less_what_left_it() -> None:
    sums = window_sums({b"ia-01|x": b"100"}, {b"900|ia-01|x": b"70"}, WINDOWS)
    assert sorted(sums) == [(900, "ia-01|x", 30.0), (3600, "ia-01|x", 100.0)]


def test_a_field_of_which_all_has_left_a_window_sums_to_exactly_zero() -> None:
    total = sum([0.1] * 10)  # 0.9999999999999999: the same amounts added in another order
    outs = {f"{w}|f".encode(): repr(1.0).encode() for w in WINDOWS}
    assert list(window_sums({b"f": repr(total).encode()}, outs, WINDOWS)) == [
        (900, "f", 0.0),
        (3600, "f", 0.0),
    ]


def test_what_left_a_window_without_a_total_adds_nothing() -> None:
    assert list(window_sums({}, {b"900|ia-01|x": b"5"}, WINDOWS)) == []


def test_dose_windows_are_merged_over_partitions_by_area_and_split() -> None:
    view = PresenceView()
    split = b"ia-01|pcso|foot|proactive"
    view.add({}, {b"900|" + split: b"60"}, {}, None, {split: b"90"}, [])
    view.add({}, {}, {}, None, {split: b"15"}, [])
    assert view.dose_windows[900] == {"ia-01": {"pcso|foot|proactive": 45.0}}
    assert view.dose_windows[86400] == {"ia-01": {"pcso|foot|proactive": 105.0}}
    assert view.dose_total == {"ia-01": {"pcso|foot|proactive": 105.0}}


def test_demand_windows_are_merged_over_partitions_by_area_and_measure() -> None:
    view = DemandView()
    view.add({b"ia-01|crimes|burglary": b"2"}, {b"3600|ia-01|crimes|burglary": b"1"}, {}, [])
    view.add({b"ia-01|crimes|burglary": b"1"}, {}, {}, [])
    assert view.windows == {
        3600: {"ia-01": {"crimes|burglary": 2.0}},
        86400: {"ia-01": {"crimes|burglary": 3.0}},
    }
