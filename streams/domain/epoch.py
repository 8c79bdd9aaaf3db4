"""Whether a worker may trust its Redis state: the store's epoch against what the log says.

Redis is a cache of the log. A deployment's store carries an *epoch*: a token written once, when
a brand-new deployment first starts (or by ``coverwatch rebuild``), and never again. A worker
judges the store when it starts and again every few seconds while it runs:

- at start, a store with an epoch is trusted (the worker remembers that epoch); a store without
  one is *new* only if the consumer group never committed an offset (nothing was ever applied,
  so nothing can be missing) and the worker writes the epoch; otherwise the state was wiped, or
  this is another Redis: *lost*;
- while running, the epoch must stay the one the worker started with: missing means the store
  was wiped (or restarted without persistence), different means it was rebuilt or replaced under
  the worker. Both are *lost*.

A lost store is never "ready" and the worker applies nothing more to it (docs/operations.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

LostCause = Literal["epoch_missing", "epoch_changed"]
LOST_CAUSES: Final[tuple[LostCause, ...]] = ("epoch_missing", "epoch_changed")


@dataclass(frozen=True, slots=True)
class Trusted:
    """The store holds this epoch: use it."""

    epoch: str


@dataclass(frozen=True, slots=True)
class New:
    """A brand-new deployment (no epoch, no committed offset): write an epoch and use it."""


@dataclass(frozen=True, slots=True)
class Lost:
    """The state is not this deployment's, or not whole: never use it."""

    cause: LostCause
    detail: str

    @property
    def reason(self) -> str:
        """One line for ``/readyz`` and the log: what was found and what to do."""
        return f"redis_state_lost: {self.detail}; run coverwatch rebuild"


Verdict = Trusted | New | Lost


def judge_at_start(stored: str | None, group_committed: bool) -> Verdict:
    """The verdict on a store when a worker starts: ``stored`` is its epoch (None: missing);
    ``group_committed`` whether the workers' consumer group has committed any offset of an
    input topic (something was applied to a store before)."""
    if stored is not None:
        return Trusted(stored)
    if not group_committed:
        return New()
    return Lost(
        "epoch_missing",
        "epoch key missing while the consumer group has committed offsets "
        "(Redis was wiped, restarted without persistence, or is not this deployment's)",
    )


def judge_running(stored: str | None, started: str) -> Verdict:
    """The verdict on a store while a worker runs with the epoch ``started``."""
    if stored is None:
        return Lost(
            "epoch_missing",
            "epoch key missing (Redis was wiped or restarted without persistence "
            "while this worker ran)",
        )
    if stored != started:
        return Lost(
            "epoch_changed",
            f"epoch changed from {started} to {stored} (the store was replaced or rebuilt "
            "while this worker ran)",
        )
    return Trusted(stored)


def new_epoch(created_at: str, nonce: str) -> str:
    """An epoch token: when it was made (RFC 3339, UTC) and a random part, so two are never
    equal and an operator can tell when the store's life began."""
    return f"{created_at}/{nonce}"
