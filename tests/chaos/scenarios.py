"""The chaos scenarios: each replays the same day on fresh topics, group and key prefix, with
one fault, and must end exactly as the first clean run did.

``ci=True`` marks the scenarios the short run inside ``make test`` includes: one of each kind
of fault (a second clean run, batch boundaries, a rebalance, a restart, a rebuild, malformed
input), to keep CI under its time. Every scenario runs with ``make chaos`` (and with
``--chaos-scenarios=all``).
"""

from __future__ import annotations

from typing import Final

from tests.chaos.harness import (
    Scenario,
    kill_and_restart_worker,
    kill_presence_process,
    kill_redis_and_restart,
    needs_aof,
    needs_rebuild,
    pause_broker,
    second_worker_joins,
    second_worker_leaves,
    wipe_redis_and_rebuild,
)

BASELINE: Final = Scenario("clean", "the first clean run, which every other is compared with")

SCENARIOS: Final = (
    Scenario("clean-again", "a second clean run"),
    Scenario("batch-1", "COVERWATCH_BATCH_SIZE=1", overrides={"batch_size": 1}, ci=True),
    Scenario("batch-4000", "COVERWATCH_BATCH_SIZE=4000", overrides={"batch_size": 4000}),
    Scenario(
        "second-worker",
        "a second worker joins at 25 % and leaves at 70 %",
        faults=((0.25, second_worker_joins), (0.70, second_worker_leaves)),
        ci=True,
    ),
    Scenario(
        "two-lanes",
        "COVERWATCH_PRESENCE_PROCESSES=2; a second worker joins at 25 % and leaves at 70 %",
        overrides={"presence_processes": 2},
        faults=((0.25, second_worker_joins), (0.70, second_worker_leaves)),
        ci=True,
    ),
    Scenario(
        "worker-kill9",
        "kill -9 of the worker at 40 %, then a new one",
        faults=((0.40, kill_and_restart_worker),),
        ci=True,
    ),
    Scenario(
        "presence-kill9",
        "kill -9 of the worker's presence process at 40 %",
        faults=((0.40, kill_presence_process),),
    ),
    Scenario(
        "redis-kill9-aof",
        "kill -9 of redis-server at 40 %, restarted from its AOF",
        faults=((0.40, kill_redis_and_restart),),
        requires=needs_aof,
    ),
    Scenario(
        "redis-wipe-rebuild",
        "Redis wiped at 50 %, workers stopped, `coverwatch rebuild`, a worker started",
        faults=((0.50, wipe_redis_and_rebuild),),
        requires=needs_rebuild,
        ci=True,
    ),
    Scenario(
        "broker-pause",
        "the broker stopped (SIGSTOP) for 30 s at 40 %, then continued",
        faults=((0.40, pause_broker),),
    ),
    Scenario(
        "redis-cluster",
        "a Redis Cluster of 3 masters; a second worker joins as the live feed starts and stays",
        faults=((0.0, second_worker_joins),),
        redis_masters=3,
        ci=True,
    ),
    Scenario(
        "malformed",
        "1,000 malformed messages over every input topic (year-9999 fixes and ticks among them)",
        malformed=1000,
        ci=True,
    ),
)

BY_NAME: Final = {scenario.name: scenario for scenario in SCENARIOS}
