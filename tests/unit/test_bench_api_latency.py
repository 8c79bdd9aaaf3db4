"""The pure parts of the API latency row: its rows from the timings of both packs. Nothing here
runs a service."""

from __future__ import annotations

from streams.devtools.bench.api_latency import (
    API_AREAS,
    DETAIL_P99_TARGET_S,
    LIST_P99_TARGET_S,
    Requests,
    api_rows,
)


def timings(areas: int, list_s: float, detail_s: float) -> dict[str, object]:
    return {
        "areas": areas,
        "list_s": [list_s] * 9 + [list_s * 2],
        "detail_s": [detail_s] * 99 + [detail_s * 3],
        "list_bytes": areas * 1500,
    }


def test_each_request_gets_its_p50_and_p99_against_the_small_pack() -> None:
    rows = api_rows(
        {"40": timings(40, 0.004, 0.002), str(API_AREAS): timings(API_AREAS, 0.2, 0.003)}
    )
    by_name = {row.measurement: row for row in rows}
    assert list(by_name) == [
        "/api/areas p50, 10,000 areas",
        "/api/areas p99, 10,000 areas",
        "/api/areas/{id} p50, 10,000 areas",
        "/api/areas/{id} p99, 10,000 areas",
    ]
    median = by_name["/api/areas p50, 10,000 areas"]
    assert (median.value, median.baseline, median.baseline_label) == (0.2, 0.004, "40 areas")
    assert (median.target, median.passed) == ("info", None)
    assert by_name["/api/areas p99, 10,000 areas"].target == f"<= {LIST_P99_TARGET_S:g} s"
    assert by_name["/api/areas p99, 10,000 areas"].passed is True
    assert by_name["/api/areas/{id} p99, 10,000 areas"].target == f"<= {DETAIL_P99_TARGET_S:g} s"
    assert "15,000,000 B vs 60,000 B" in median.note


def test_a_slow_p99_fails_its_target() -> None:
    rows = api_rows({"40": timings(40, 0.004, 0.002), str(API_AREAS): timings(API_AREAS, 4.0, 1.0)})
    verdicts = {row.measurement: row.passed for row in rows if row.passed is not None}
    assert verdicts == {
        "/api/areas p99, 10,000 areas": False,
        "/api/areas/{id} p99, 10,000 areas": False,
    }


def test_a_step_that_failed_or_did_not_run_is_one_row_not_measured() -> None:
    (failed,) = api_rows({"error": "StackError: worker exited"})
    assert failed.value is None
    assert failed.note == "not measured: StackError: worker exited"
    (missing,) = api_rows(None)
    assert missing.note == "not measured: not run"


def test_a_quick_run_sends_fewer_requests() -> None:
    quick, full = Requests.make(quick=True), Requests.make(quick=False)
    assert quick.list_requests < full.list_requests
    assert quick.detail_requests < full.detail_requests
