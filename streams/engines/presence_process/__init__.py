"""The presence process: the pings hot path on a core of its own.

A worker's Faust event loop reads every topic and runs the other agents, the coverage evaluator
and the web server. The presence engine (decode, locate, the track state machine, visits, the
Redis commit) is CPU-bound Python: on that loop it would keep the consumer from fetching while it
works. So each worker runs its presence engine in child processes (one per lane of the pings
reader, :mod:`streams.engines.pings`), and the loop only moves bytes: the reader's batches go to
the child as raw messages, at most :data:`IN_FLIGHT` at a time, so that the child always has the
next batch in hand; it prepares that batch (decode, locate,
advance the tracks, build the Redis changes) while the previous one's visits are still being
acknowledged by the broker and its Lua commit runs in Redis.

Order and failure: every request names the request it follows (``after``), and the child applies
it only if that one was applied; otherwise it refuses it. So when a batch fails (Redis or the
broker unavailable, bad data), every batch sent after it is refused, nothing is applied out of
order, and the worker sends them again in order (those fetched before a rebalance excepted). A
batch counts as applied only once the child has committed it (at least once), and every commit
carries the owner its partitions are held under (fenced). The child emits visits and deadletters
with its own producer before its commit, as the engine always has.

The child holds the tracks cache. It forgets it whenever the worker's partitions are revoked (the
``generation`` of each request changes), after any failure (the engine reloads from Redis), and
when a commit finds a partition applied elsewhere. Requests and replies travel over a socket
pair as 4-byte length-prefixed msgpack frames. What the child counts comes back with each reply
(:class:`~streams.metrics.MetricsRecorder`), with its clock for an event-clock worker.

The child exits when the worker closes the socket (or dies: the kernel then kills it); it
ignores SIGINT and SIGTERM, which reach it with the worker's process group, so that it finishes
the batch in hand and leaves when the worker does.

:mod:`~streams.engines.presence_process.protocol` holds what crosses the socket,
:mod:`~streams.engines.presence_process.parent` the worker's side (:class:`PresenceProcess`),
:mod:`~streams.engines.presence_process.child` the process itself (``python -m
streams.engines.presence_process FD``); :mod:`streams.engines.pings` feeds it the agent's batches.
"""

from __future__ import annotations

from streams.engines.presence_process.child import GC_THRESHOLDS, PresenceServer
from streams.engines.presence_process.parent import (
    IN_FLIGHT,
    LOSSES_BEFORE_BLAME,
    PresenceProcess,
)
from streams.engines.presence_process.protocol import (
    Done,
    Failed,
    PresenceFailedError,
    PresenceUnavailableError,
    ProcessPings,
    Reply,
    Request,
    SettlePresence,
)

__all__ = [
    "GC_THRESHOLDS",
    "IN_FLIGHT",
    "LOSSES_BEFORE_BLAME",
    "Done",
    "Failed",
    "PresenceFailedError",
    "PresenceProcess",
    "PresenceServer",
    "PresenceUnavailableError",
    "ProcessPings",
    "Reply",
    "Request",
    "SettlePresence",
]
