"""What crosses between a worker and its presence process: the requests, the replies, and the
frames they travel in over the socket pair (a 4-byte big-endian length, then msgpack).

Every request names the request it follows (``after``): the child applies it only if that one was
applied, and refuses it otherwise (:mod:`streams.engines.presence_process`).
"""

from __future__ import annotations

import msgspec

from streams.engines.ping_batch import PingBatch
from streams.metrics import RecordedCall


class ProcessPings(msgspec.Struct, tag="pings", array_like=True, frozen=True):
    """Apply a batch of ``airwave.pings`` (request ``seq``, only if request ``after`` was
    applied; 0: the first request of a child)."""

    seq: int
    after: int
    generation: int
    clock: float | None
    batch: PingBatch
    owners: dict[int, int] = msgspec.field(default_factory=dict)
    """partition -> the owner the worker holds it under (its commits are fenced by it)."""
    with_records: dict[str, list[int]] | None = None
    """topic -> its partitions that held records when the worker last looked at the broker
    (:mod:`streams.engines.records_seen`; None: not known)."""


class SettlePresence(msgspec.Struct, tag="settle", array_like=True, frozen=True):
    """Settle on the clock (the ``settle_presence`` timer); ``highwaters`` per pings partition
    as of the worker's last fetch."""

    seq: int
    after: int
    generation: int
    clock: float | None
    highwaters: dict[int, int | None]
    owners: dict[int, int] = msgspec.field(default_factory=dict)
    """partition -> the owner the worker holds it under (its commits are fenced by it)."""


class Done(msgspec.Struct, tag="done", array_like=True, frozen=True):
    """Request ``seq`` was applied."""

    seq: int
    metrics: list[RecordedCall]
    clock: float | None
    cpu_seconds: float


class Failed(msgspec.Struct, tag="failed", array_like=True, frozen=True):
    """Request ``seq`` failed, or was ``refused`` (the request it follows was not applied);
    nothing of it was committed."""

    seq: int
    metrics: list[RecordedCall]
    unavailable: bool
    refused: bool
    error: str
    service: str = ""
    """The unavailable service, as an operator names it ("Redis", "the Kafka broker")."""


Request = ProcessPings | SettlePresence
Reply = Done | Failed


class PresenceUnavailableError(ConnectionError):
    """A service the presence process needs is unavailable, or the process itself was lost: the
    batch waits and is tried again. ``service`` names the service when it is known."""

    def __init__(self, message: str, service: str = "") -> None:
        super().__init__(message)
        self.service = service


class PresenceFailedError(RuntimeError):
    """The presence process failed on a batch for a reason of its data or of the code."""
