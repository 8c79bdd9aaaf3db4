"""The presence process stops using a Redis store whose epoch changed under it (wiped, or
rebuilt): nothing read from it is classified or published, for good."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from streams import topics
from streams.engines.join_cache import JoinCache, StoreChangedError

CAD_PARTITIONS = topics.BY_NAME[topics.INCIDENTS].partitions


def versions(epoch: bytes | None) -> list[bytes | None]:
    return [b"3", b"7", *([b"1"] * CAD_PARTITIONS), *([b"1795194000.0"] * CAD_PARTITIONS), epoch]


def directory() -> JoinCache:
    state: Any = SimpleNamespace(directory_version_keys=lambda partitions: [])
    return JoinCache(state)


def test_a_store_that_keeps_its_epoch_is_used() -> None:
    seen = directory()
    seen.observe(versions(b"2026-12-06T00:00:00Z/ab"))
    seen.observe(versions(b"2026-12-06T00:00:00Z/ab"))
    seen.check_store()
    assert seen.cad_progress() == 1795194000.0


@pytest.mark.parametrize("later", [None, b"2026-12-06T04:00:00Z/cd"], ids=["wiped", "rebuilt"])
def test_a_store_whose_epoch_changed_is_not_used_again(later: bytes | None) -> None:
    seen = directory()
    seen.observe(versions(b"2026-12-06T00:00:00Z/ab"))
    seen.observe(versions(later))
    with pytest.raises(StoreChangedError):
        seen.check_store()
    seen.observe(versions(b"2026-12-06T00:00:00Z/ab"))
    with pytest.raises(StoreChangedError):
        seen.check_store()


def test_a_store_change_is_a_wait_not_a_bad_batch() -> None:
    assert isinstance(StoreChangedError("x"), ConnectionError)
