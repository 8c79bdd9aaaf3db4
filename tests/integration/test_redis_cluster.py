"""The state on a real Redis Cluster of three masters: commits spread over every master, a master
that forgot the scripts, the live events, and the watermarks of the shared families.

The chaos suite's ``redis-cluster`` scenario runs two whole workers against such a cluster."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import redis.asyncio as redis_asyncio

from streams import topics
from streams.devtools.stack.embedded import ManagedProcess, free_port, start_redis_cluster
from streams.metrics import Metrics
from streams.state import STORE_UNAVAILABLE, Changes, PartitionCommit, State
from streams.state import keys as layout

pytestmark = pytest.mark.integration

MASTERS = 3


@pytest.fixture(scope="module")
def cluster(work_dir: Path) -> Iterator[list[int]]:
    """The ports of a Redis Cluster of three masters on loopback (no replicas)."""
    ports = [free_port() for _ in range(MASTERS)]
    nodes: list[ManagedProcess] = start_redis_cluster(ports, work_dir / "redis-cluster")
    yield ports
    for node in nodes:
        node.stop()


def cluster_url(ports: list[int]) -> str:
    return f"redis+cluster://127.0.0.1:{ports[0]}"


def keys_per_master(ports: list[int], prefix: str) -> list[int]:
    """How many of the keys under ``prefix`` each master holds."""
    counts = []
    for port in ports:
        with redis.Redis(port=port) as node:
            counts.append(sum(1 for _ in node.scan_iter(match=f"{prefix}:*", count=1000)))
    return counts


def counted(state: State, source: str, partition: int) -> Changes:
    """A change that adds 1 to a counter in the partition's own slot (not idempotent: applied
    twice, it counts 2)."""
    changes = Changes()
    changes.hincrby(state.slot(source, partition) + ":count", "n", 1)
    return changes


async def counts(state: State, commits: list[PartitionCommit]) -> list[int]:
    values = [
        await state.redis.hget(state.slot(c.source, c.partition) + ":count", "n") for c in commits
    ]
    return [int(value or 0) for value in values]


def every_partition(state: State, offset: int) -> list[PartitionCommit]:
    """One commit per partition of every input topic."""
    return [
        PartitionCommit(spec.name, partition, offset, counted(state, spec.name, partition))
        for spec in topics.TOPICS
        if spec.direction == "input"
        for partition in range(spec.partitions)
    ]


async def test_one_commit_call_applies_every_partition_on_whichever_master_holds_it(
    cluster: list[int], unique: str
) -> None:
    state = State(cluster_url(cluster), unique, Metrics([]))
    assert await state.ready()
    commits = every_partition(state, offset=7)
    leader = PartitionCommit("coverage", 0, None, counted(state, "coverage", 0))

    assert all(await state.commit([*commits, leader]))
    assert not any(await state.commit(commits))  # applied before: refused by the watermark

    assert await counts(state, [*commits, leader]) == [1] * (len(commits) + 1)
    marks = await state.watermarks(topics.PINGS, range(4))
    assert marks == {0: 7, 1: 7, 2: 7, 3: 7}
    assert all(count > 0 for count in keys_per_master(cluster, unique))
    await state.close()


async def test_a_master_that_forgot_the_scripts_still_applies_each_commit_once(
    cluster: list[int], unique: str
) -> None:
    state = State(cluster_url(cluster), unique, Metrics([]))
    await state.load_scripts()
    with redis.Redis(port=cluster[1]) as node:
        node.script_flush()  # as a master restarted without them, or a replica promoted
    commits = every_partition(state, offset=3)

    assert all(await state.commit(commits))

    assert await counts(state, commits) == [1] * len(commits)
    assert keys_per_master(cluster, unique)[1] > 0  # the master that forgot them had commits
    await state.close()


async def test_live_events_published_through_the_cluster_reach_a_subscriber(
    cluster: list[int], unique: str
) -> None:
    publisher = State(cluster_url(cluster), unique, Metrics([]))
    subscriber = State(cluster_url(cluster), unique, Metrics([]))
    events = subscriber.live_events()
    first = asyncio.ensure_future(anext(events))
    await asyncio.sleep(0.5)  # subscribed

    await publisher.publish_events([b"event: area\ndata: {}\n\n"])

    assert await asyncio.wait_for(first, 10) == b"event: area\ndata: {}\n\n"
    await events.aclose()
    await publisher.close()
    await subscriber.close()


async def test_a_shared_familys_watermark_stored_by_the_layout_before_moves_into_its_slot(
    cluster: list[int], unique: str
) -> None:
    state = State(cluster_url(cluster), unique, Metrics([]))
    former = layout.WATERMARK.of(state.keys.former_partition_slot(topics.ROSTER, 0))
    await state.redis.set(former, 41)
    await state.redis.set(state.watermark_key(topics.AREAS, 0), 12)
    areas_former = layout.WATERMARK.of(state.keys.former_partition_slot(topics.AREAS, 0))
    await state.redis.set(areas_former, 5)  # older than the one already moved: kept as it is

    assert await state.move_watermarks() == 2

    assert await state.watermarks(topics.ROSTER, [0]) == {0: 41}
    assert await state.watermarks(topics.AREAS, [0]) == {0: 12}
    assert await state.redis.exists(former, areas_former) == 0
    assert await state.move_watermarks() == 0
    await state.close()


def test_a_cluster_client_is_what_a_cluster_url_makes(cluster: list[int]) -> None:
    state = State(cluster_url(cluster), "x", Metrics([]))
    assert isinstance(state.redis, redis_asyncio.RedisCluster)
    single = State(f"redis://127.0.0.1:{cluster[0]}/0", "x", Metrics([]))
    assert not isinstance(single.redis, redis_asyncio.RedisCluster)


async def test_clearing_for_a_rebuild_deletes_on_every_master_all_but_the_audit_log(
    cluster: list[int], unique: str
) -> None:
    state = State(cluster_url(cluster), unique, Metrics([]))
    await state.commit(every_partition(state, offset=1))
    audit = state.keys.key(layout.AUDIT)
    await state.redis.rpush(audit, b"{}")
    assert sum(keys_per_master(cluster, unique)) > 2 * MASTERS

    deleted = sum([count async for count in state.clear(batch=5)])

    assert deleted > 2 * MASTERS
    assert keys_per_master(cluster, unique) == [
        1 if state.redis.keyslot(audit) in served else 0 for served in slots_served(cluster)
    ]
    await state.close()


def slots_served(ports: list[int]) -> list[set[int]]:
    """The slots each master serves."""
    served = []
    for port in ports:
        with redis.Redis(port=port) as node:
            own = node.execute_command("CLUSTER", "MYID").decode()
            ranges = [
                (int(entry[0]), int(entry[1]))
                for entry in node.execute_command("CLUSTER", "SLOTS")
                if entry[2][2].decode() == own
            ]
        served.append({slot for low, high in ranges for slot in range(low, high + 1)})
    return served


async def test_a_cluster_that_lost_a_master_is_unavailable_not_a_bad_message(
    work_dir: Path, unique: str
) -> None:
    """While a master is down, every commit fails as the store being unavailable (the batch
    waits and is retried), never as an error of the batch's records (which would deadletter
    them): on the lost master's slots the connection fails; on the others, once the cluster
    sees the master gone, Redis answers ``CLUSTERDOWN``."""
    ports = [free_port() for _ in range(MASTERS)]
    nodes = start_redis_cluster(ports, work_dir / f"cluster-{unique}")
    state = State(cluster_url(ports), unique, Metrics([]))
    try:
        assert all(await state.commit(every_partition(state, offset=1)))
        nodes[1].process.kill()
        nodes[1].process.wait()
        with redis.Redis(port=ports[0]) as node:
            for _ in range(100):
                if b"cluster_state:fail" in node.execute_command("CLUSTER", "INFO"):
                    break
                await asyncio.sleep(0.1)
            else:
                pytest.fail("the cluster never saw its master gone")
        assert not await state.ready()
        failures = set()
        for commit in every_partition(state, offset=2):
            with pytest.raises(STORE_UNAVAILABLE) as caught:
                await state.commit([commit])
            failures.add(type(caught.value).__name__)
        assert failures == {"ConnectionError", "ClusterDownError"}
    finally:
        await state.close()
        for node in nodes:
            node.stop()
