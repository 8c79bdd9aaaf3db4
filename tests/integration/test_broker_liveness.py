"""The presence process asks whether the broker answers, and its join wait counts only the time
it did: a paused broker does not answer, and answers again once it continues (a real broker)."""

from __future__ import annotations

import asyncio
import os
import signal

import pytest

from streams.devtools.stack.embedded import Services
from streams.kafka.liveness import BrokerLiveness

pytestmark = pytest.mark.integration


async def _scenario(stack: Services, broker_pid: int) -> None:
    liveness = BrokerLiveness(stack.kafka_bootstrap)
    try:
        assert await liveness.answers()
        os.kill(broker_pid, signal.SIGSTOP)
        try:
            assert not await liveness.answers()
        finally:
            os.kill(broker_pid, signal.SIGCONT)
        assert await liveness.answers()
    finally:
        await liveness.close()


async def _unreachable() -> bool:
    liveness = BrokerLiveness("127.0.0.1:1")
    try:
        return await liveness.answers()
    finally:
        await liveness.close()


def test_a_paused_broker_does_not_answer_and_answers_again_once_it_continues(
    stack: Services,
) -> None:
    broker = stack.processes[0]
    assert broker.name == "broker"
    asyncio.run(_scenario(stack, broker.process.pid))


def test_a_broker_that_cannot_be_reached_does_not_answer() -> None:
    assert not asyncio.run(_unreachable())
