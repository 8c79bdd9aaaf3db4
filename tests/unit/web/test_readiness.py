"""`/readyz`: ready only when Redis answers and holds this deployment's state."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

from streams.domain.epoch import Lost, judge_running
from streams.engines.epoch import StoreStatus
from streams.web.api import RUNTIME_KEY
from streams.web.server import readyz

E1 = "2026-12-01T10:00:00Z/0011223344556677"


async def ask(redis_answers: bool, status: StoreStatus) -> tuple[int, dict[str, Any]]:
    async def ready() -> bool:
        return redis_answers

    runtime = SimpleNamespace(state=SimpleNamespace(ready=ready), store=status)
    request: Any = SimpleNamespace(app={RUNTIME_KEY: runtime})
    response = await readyz(request)
    assert response.text is not None
    return response.status, json.loads(response.text)


async def test_a_trusted_store_that_answers_is_ready() -> None:
    status = StoreStatus()
    status.trust(E1)
    code, body = await ask(True, status)
    assert code == 200
    assert body == {"status": "ok", "redis": True, "state": "ok", "epoch": E1}


async def test_a_lost_store_is_not_ready_and_says_why() -> None:
    status = StoreStatus()
    status.trust(E1)
    lost = judge_running(None, E1)
    assert isinstance(lost, Lost)
    status.lose(lost)
    code, body = await ask(True, status)
    assert code == 503
    assert body["state"] == "lost"
    assert body["reason"].startswith("redis_state_lost: epoch key missing")


async def test_a_redis_that_does_not_answer_is_not_ready() -> None:
    status = StoreStatus()
    status.trust(E1)
    code, body = await ask(False, status)
    assert code == 503
    assert body["reason"] == "redis unavailable"


async def test_a_store_not_yet_checked_is_not_ready() -> None:
    code, body = await ask(True, StoreStatus())
    assert code == 503
    assert body["state"] == "checking"
