"""The worker's watch on its Redis store: is it still this deployment's whole state?

When the worker starts, and every :data:`CHECK_EVERY_S` while it runs, :class:`EpochWatch` reads
the store's epoch and judges it (:mod:`streams.domain.epoch`). Until the store is trusted, and
for good once it is found lost, :class:`StoreStatus` keeps the agents from taking their next
batch and the clock-driven steps (coverage evaluation, settling presence) from running: a worker
never writes partial state to a wiped store, never publishes alerts judged on one, and never
reports ready. Its consumer commits no further offsets meanwhile (the batch in hand is not
acknowledged). Recovery is by the operator: stop every worker, ``coverwatch rebuild``, start the
workers (docs/operations.md).

Between a wipe and the next check (at most :data:`CHECK_EVERY_S`), batches already in hand may
still be written; that is harmless, since the epoch stays missing and a rebuild clears them. The
presence process does not wait for this check: it reads the epoch back with every commit, and
once it changed it classifies and publishes nothing more (``JoinCache.check_store`` in
:mod:`streams.engines.presence`), so no visit worked out against an emptied store (no assignments,
no
roster) reaches ``presence.visits``.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from mode import Service

from streams.domain.epoch import Lost, New, Trusted, judge_at_start, judge_running, new_epoch
from streams.engines.outages import OUTAGES, service_of
from streams.engines.stage import unavailable
from streams.kafka.group import group_has_committed
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state import State

log = logging.getLogger(__name__)

CHECK_EVERY_S = 1.0
REMIND_EVERY_S = 60.0
"""A lost store is logged again this often, for whoever reads the log later."""


def redis_location(url: str) -> str:
    """The Redis URL without its credentials, for logs and messages."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}{parts.path}"


def make_epoch() -> str:
    """A new epoch: now (UTC, to the second) and 8 random bytes."""
    created = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return new_epoch(created, secrets.token_hex(8))


class StoreStatus:
    """Whether this worker may use its Redis store, and why not."""

    def __init__(self) -> None:
        self.epoch: str | None = None
        self.lost: Lost | None = None
        self.waiting_for = "checking the Redis epoch"
        self._usable = asyncio.Event()

    @property
    def usable(self) -> bool:
        """The store was judged this deployment's and has not been lost since."""
        return self._usable.is_set()

    async def wait_usable(self) -> None:
        """Return once the store is usable (never, once it is lost)."""
        await self._usable.wait()

    def trust(self, epoch: str) -> None:
        """The store holds ``epoch``: use it."""
        self.epoch = epoch
        self._usable.set()

    def lose(self, lost: Lost) -> None:
        """The store is lost: stop using it for good."""
        self.lost = lost
        self._usable.clear()

    def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether to report ready as far as the store goes, and what to say."""
        if self.lost is not None:
            return False, {"state": "lost", "reason": self.lost.reason}
        if not self.usable:
            return False, {"state": "checking", "reason": self.waiting_for}
        return True, {"state": "ok", "epoch": self.epoch}


class EpochWatch(Service):
    """Judges the store at start and every :data:`CHECK_EVERY_S`; a verdict of lost is final."""

    def __init__(
        self, settings: Settings, state: State, metrics: Metrics, status: StoreStatus, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.redis_state = state
        self.metrics = metrics
        self.status = status
        self._reminded = 0.0

    @Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            try:
                await self.check()
            except Exception as error:
                if not unavailable(error):
                    raise
                self.status.waiting_for = f"{service_of(error)} is unavailable ({error})"
                OUTAGES.unavailable("the Redis state check", error, "is tried again")
            else:
                OUTAGES.available("the Redis state check")
            await self.sleep(CHECK_EVERY_S)

    async def check(self) -> None:
        """Judge the store once (see :mod:`streams.domain.epoch`)."""
        if self.status.lost is not None:
            self._remind(self.status.lost)
            return
        stored = await self.redis_state.epoch()
        started = self.status.epoch
        if started is not None:
            verdict = judge_running(stored, started)
        elif stored is not None:
            verdict = judge_at_start(stored, group_committed=True)
        else:
            verdict = judge_at_start(None, await group_has_committed(self.settings))
        if isinstance(verdict, New):
            epoch = await self.redis_state.claim_epoch(make_epoch())
            log.info(
                "Redis %s (key prefix %s) had no epoch and consumer group %s no committed offset: "
                "a new deployment; its epoch is %s",
                redis_location(self.settings.redis_url),
                self.settings.key_prefix,
                self.settings.app_id,
                epoch,
            )
            verdict = Trusted(epoch)
        if isinstance(verdict, Trusted):
            if started is None:
                log.info("Redis state trusted: epoch %s", verdict.epoch)
                await self.redis_state.upgrade_window_layout()
                await self.redis_state.move_watermarks()
                self.status.trust(verdict.epoch)
            return
        self.status.lose(verdict)
        self.metrics.state_lost(verdict.cause)
        self._remind(verdict)

    def _remind(self, lost: Lost) -> None:
        now = time.monotonic()
        if self._reminded and now - self._reminded < REMIND_EVERY_S:
            return
        self._reminded = now
        log.error(
            "%s. Redis %s (key prefix %s, epoch key %s) cannot be trusted: this worker has "
            "stopped consuming and reports not ready. Stop every worker, run `coverwatch "
            "rebuild`, then start the workers again.",
            lost.reason,
            redis_location(self.settings.redis_url),
            self.settings.key_prefix,
            self.redis_state.epoch_key,
        )
