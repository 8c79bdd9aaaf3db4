"""Telling an operator that Redis or the broker is down, in words they search for: which
service, what waits, once per :data:`REPEAT_S` per step (with how many repeats were held back),
and when it is back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from faust.exceptions import ProducerSendError

from streams.kafka.errors import KafkaError
from streams.state import STORE_UNAVAILABLE

log = logging.getLogger(__name__)

REPEAT_S: Final = 30.0
"""How often one step repeats that a service is still unavailable."""


def service_of(error: BaseException) -> str:
    """The service an infrastructure failure is of, as an operator names it."""
    if isinstance(error, ProducerSendError) and error.__cause__ is not None:
        error = error.__cause__
    named = getattr(error, "service", "")  # the presence process's errors name it
    if isinstance(named, str) and named:
        return named
    if isinstance(error, KafkaError):
        return "the Kafka broker"
    if isinstance(error, STORE_UNAVAILABLE):
        return "Redis"
    return "a service (Redis or the Kafka broker)"


@dataclass
class Outage:
    """One step's outage: since when, when it was last told, and the repeats held back."""

    service: str
    since: float
    told: float
    held_back: int = 0


@dataclass
class OutageLog:
    """The outages of a process's steps, told once per ``repeat_s`` each."""

    repeat_s: float = REPEAT_S
    clock: Callable[[], float] = time.monotonic
    outages: dict[str, Outage] = field(default_factory=dict)

    def unavailable(self, step: str, error: BaseException, waiting: str) -> None:
        """``step`` could not run because a service is unavailable; ``waiting`` says what
        happens meanwhile ("the batch waits", "skipped this tick")."""
        now = self.clock()
        service = service_of(error)
        outage = self.outages.get(step)
        if outage is not None and outage.service == service and now - outage.told < self.repeat_s:
            outage.held_back += 1
            return
        if outage is None or outage.service != service:
            outage = self.outages[step] = Outage(service, now, now)
        repeats = f"; {outage.held_back} more times" if outage.held_back else ""
        down_for = f" for {now - outage.since:.0f} s" if now > outage.since else ""
        log.warning(
            "%s is unavailable%s (%s): %s %s%s", service, down_for, error, step, waiting, repeats
        )
        outage.told, outage.held_back = now, 0

    def available(self, step: str) -> None:
        """``step`` ran: if it had waited for a service, say that the service is back."""
        if not self.outages:
            return
        outage = self.outages.pop(step, None)
        if outage is not None:
            log.info(
                "%s is available again: %s runs (it waited %.0f s)",
                outage.service,
                step,
                self.clock() - outage.since,
            )


OUTAGES: Final = OutageLog()
"""The worker process's outages (each of its steps names itself)."""
