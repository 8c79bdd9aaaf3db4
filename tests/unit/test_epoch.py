"""The worker's watch on its Redis store: trusted, written for a new deployment, or lost."""

from __future__ import annotations

from typing import Any

import pytest

from streams.engines import epoch as epoch_module
from streams.engines.epoch import EpochWatch, StoreStatus, redis_location
from streams.metrics import Metrics
from streams.settings import Settings

E1 = "2026-12-01T10:00:00Z/0011223344556677"


class FakeStore:
    """Stands in for :class:`streams.state.State`: an epoch key, who claimed it, and how often
    the window layout was upgraded."""

    epoch_key = "cw:{meta}:epoch"

    def __init__(self, stored: str | None) -> None:
        self.stored = stored
        self.claims: list[str] = []
        self.upgrades = 0

    async def epoch(self) -> str | None:
        return self.stored

    async def claim_epoch(self, epoch: str) -> str:
        self.claims.append(epoch)
        if self.stored is None:
            self.stored = epoch
        return self.stored

    async def upgrade_window_layout(self) -> int:
        self.upgrades += 1
        return 0

    async def move_watermarks(self) -> int:
        return 0


def watch(
    store: FakeStore, monkeypatch: pytest.MonkeyPatch, *, committed: bool = False
) -> tuple[EpochWatch, StoreStatus, Metrics]:
    async def group_has_committed(settings: Settings) -> bool:
        return committed

    monkeypatch.setattr(epoch_module, "group_has_committed", group_has_committed)
    status, metrics = StoreStatus(), Metrics([])
    settings = Settings(redis_url="redis://:secret@redis.example:6380/2")
    return EpochWatch(settings, store, metrics, status), status, metrics  # type: ignore[arg-type]


def lost_gauge(metrics: Metrics, cause: str) -> float:
    value = metrics.registry.get_sample_value("coverwatch_redis_state_lost", {"cause": cause})
    assert value is not None
    return value


async def test_the_store_is_not_usable_until_it_is_checked() -> None:
    status = StoreStatus()
    ready, body = status.readiness()
    assert not status.usable
    assert not ready
    assert body["state"] == "checking"


async def test_a_store_with_an_epoch_is_trusted_and_ready(monkeypatch: pytest.MonkeyPatch) -> None:
    store = FakeStore(E1)
    watcher, status, metrics = watch(store, monkeypatch, committed=True)
    await watcher.check()
    assert status.usable
    assert status.readiness() == (True, {"state": "ok", "epoch": E1})
    assert store.claims == []
    assert lost_gauge(metrics, "epoch_missing") == 0


async def test_the_window_layout_is_upgraded_once_when_the_store_is_first_trusted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = FakeStore(E1)
    watcher, status, _ = watch(store, monkeypatch, committed=True)
    await watcher.check()
    await watcher.check()
    assert status.usable
    assert store.upgrades == 1


async def test_a_new_deployment_writes_its_epoch_and_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = FakeStore(None)
    watcher, status, _ = watch(store, monkeypatch, committed=False)
    await watcher.check()
    assert len(store.claims) == 1
    assert status.usable
    assert status.epoch == store.stored


async def test_an_empty_store_of_a_group_with_offsets_is_lost_for_good(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = FakeStore(None)
    watcher, status, metrics = watch(store, monkeypatch, committed=True)
    await watcher.check()
    ready, body = status.readiness()
    assert not ready
    assert body["state"] == "lost"
    assert body["reason"].startswith("redis_state_lost: epoch key missing")
    assert lost_gauge(metrics, "epoch_missing") == 1
    assert store.claims == []
    assert "Redis redis://redis.example:6380/2" in caplog.text
    assert "secret" not in caplog.text
    store.stored = E1  # even an epoch appearing later does not make it trusted again
    await watcher.check()
    assert not status.usable


@pytest.mark.parametrize(
    ("later", "cause"), [(None, "epoch_missing"), ("another", "epoch_changed")]
)
async def test_a_store_wiped_or_replaced_under_a_running_worker_is_lost(
    monkeypatch: pytest.MonkeyPatch, later: str | None, cause: str
) -> None:
    store = FakeStore(E1)
    watcher, status, metrics = watch(store, monkeypatch, committed=True)
    await watcher.check()
    store.stored = later
    await watcher.check()
    assert not status.usable
    assert status.lost is not None
    assert status.lost.cause == cause
    assert lost_gauge(metrics, cause) == 1


async def test_waiting_for_a_usable_store_returns_once_it_is_trusted() -> None:
    status = StoreStatus()
    status.trust(E1)
    await status.wait_usable()
    assert status.usable


def test_the_redis_location_in_logs_carries_no_credentials() -> None:
    assert redis_location("redis://user:pw@host:6379/0") == "redis://host:6379/0"
    assert redis_location("rediss://host/3") == "rediss://host/3"


def test_the_readiness_body_names_what_it_waits_for() -> None:
    status: Any = StoreStatus()
    status.waiting_for = "Redis or the broker is unavailable (x)"
    assert status.readiness() == (
        False,
        {"state": "checking", "reason": "Redis or the broker is unavailable (x)"},
    )
