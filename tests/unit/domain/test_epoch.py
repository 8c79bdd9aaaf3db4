"""Whether a worker may trust its Redis store: the epoch against what the log says."""

from __future__ import annotations

import pytest

from streams.domain.epoch import (
    LOST_CAUSES,
    Lost,
    New,
    Trusted,
    judge_at_start,
    judge_running,
    new_epoch,
)

E1 = "2026-12-01T10:00:00Z/0011223344556677"
E2 = "2026-12-02T09:30:00Z/8899aabbccddeeff"


@pytest.mark.parametrize(
    ("stored", "group_committed", "verdict"),
    [
        (E1, True, Trusted(E1)),
        (E1, False, Trusted(E1)),
        (None, False, New()),
    ],
    ids=["epoch-and-offsets", "epoch-no-offsets", "brand-new-deployment"],
)
def test_a_store_with_an_epoch_or_a_deployment_that_never_committed_is_usable(
    stored: str | None, group_committed: bool, verdict: object
) -> None:
    assert judge_at_start(stored, group_committed) == verdict


def test_a_store_without_an_epoch_is_lost_when_the_group_had_applied_something() -> None:
    verdict = judge_at_start(None, group_committed=True)
    assert isinstance(verdict, Lost)
    assert verdict.cause == "epoch_missing"
    assert verdict.reason.startswith("redis_state_lost: epoch key missing")
    assert verdict.reason.endswith("; run coverwatch rebuild")


@pytest.mark.parametrize(
    ("stored", "cause"),
    [(None, "epoch_missing"), (E2, "epoch_changed")],
    ids=["wiped-while-running", "replaced-while-running"],
)
def test_a_store_that_loses_or_changes_its_epoch_under_a_running_worker_is_lost(
    stored: str | None, cause: str
) -> None:
    verdict = judge_running(stored, started=E1)
    assert isinstance(verdict, Lost)
    assert verdict.cause == cause
    assert verdict.cause in LOST_CAUSES
    assert "redis_state_lost" in verdict.reason


def test_the_changed_epoch_is_named_in_the_reason() -> None:
    verdict = judge_running(E2, started=E1)
    assert isinstance(verdict, Lost)
    assert E1 in verdict.reason
    assert E2 in verdict.reason


def test_a_running_worker_keeps_trusting_its_own_epoch() -> None:
    assert judge_running(E1, started=E1) == Trusted(E1)


def test_epochs_say_when_they_were_made_and_differ_by_their_random_part() -> None:
    first = new_epoch("2026-12-01T10:00:00Z", "00")
    second = new_epoch("2026-12-01T10:00:00Z", "01")
    assert first.startswith("2026-12-01T10:00:00Z/")
    assert first != second
