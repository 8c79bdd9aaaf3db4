"""A worker refuses to start on topics that are not the contract's, and says which: missing
ones, and ones with other partitions or without compaction (a real broker)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.devtools.stack.embedded import Services, create_topics
from tests.integration.conftest import worker_settings

pytestmark = pytest.mark.integration


def run_worker(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streams", "worker"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_worker_without_its_topics_names_them_and_exits_2(stack: Services) -> None:
    settings = worker_settings(stack, "mtopicsmissing")

    result = run_worker(settings.to_env())

    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("coverwatch worker:")]
    assert len(lines) == 11, result.stderr
    assert f"coverwatch worker: {settings.topic('airwave.pings')} is missing" in result.stderr
    assert "Traceback" not in result.stderr


async def _wrong_roster(bootstrap: str, prefix: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(
                    f"{prefix}resources.roster", 4, 1, topic_configs={"cleanup.policy": "delete"}
                )
            ]
        )
    finally:
        await admin.close()
    await create_topics(bootstrap, prefix)  # every other topic as the contract says


def test_a_worker_on_a_topic_with_other_partitions_or_no_compaction_exits_2(
    stack: Services,
) -> None:
    settings = worker_settings(stack, "mtopicswrong")
    asyncio.run(_wrong_roster(settings.kafka_bootstrap, settings.topic_prefix))

    result = run_worker(settings.to_env())

    assert result.returncode == 2
    roster = settings.topic("resources.roster")
    assert f"coverwatch worker: {roster} has 4 partitions; the contract says 1" in result.stderr
    assert "missing" not in result.stderr
