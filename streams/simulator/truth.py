"""The ground truth of a simulation's area crime and planted effects, for tests to read.

It never goes on a topic: :func:`~streams.simulator.world.generate_with_truth` hands it out
beside the records, and it is complete once those records have all been read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias, get_args

import numpy as np

from streams.simulator.catalogue import FloatArray

PlaceKind: TypeAlias = Literal["impact", "comparison", "ring"]
Measure: TypeAlias = Literal[
    "crimes",
    "prevented",
    "displaced_in",
    "exposure_s",
    "deterred_exposure_s",
    "deterred_s",
    "qualifying_visits",
]
MEASURES: Final[tuple[Measure, ...]] = get_args(Measure)
"""Per place and day:

- ``crimes``: crimes of the area crime process recorded in the place (a ring's include the
  crimes displaced into it);
- ``prevented``: crimes of an Impact Area removed by deterrence;
- ``displaced_in``: prevented crimes moved into this ring;
- ``exposure_s``: seconds weighted by the daily demand curve (the expected crimes of a place
  are its rate per day times ``exposure_s / 86400``);
- ``deterred_exposure_s``: the part of ``exposure_s`` when the place was deterred;
- ``deterred_s``: seconds the place was deterred (the effect on, a qualifying presence now or
  within ``deterrence_s``);
- ``qualifying_visits``: officers' stays that reached the qualifying time in the place, as
  the simulator saw them from true positions (impact and comparison areas).
"""


@dataclass(slots=True)
class GroundTruth:
    """Per place (Impact Area, comparison area, ring) and simulated day, each measure of
    :data:`MEASURES`. Day 1 is the first 24 h from the options' ``start``."""

    place_ids: tuple[str, ...]
    kinds: tuple[PlaceKind, ...]
    ring_of: dict[str, str]
    """ring id -> the id of the area it surrounds."""
    _days: list[dict[Measure, FloatArray]] = field(default_factory=list)

    def day(self, day: int) -> dict[Measure, FloatArray]:
        """The measures of ``day`` (one entry per place), zeros until something is counted."""
        while len(self._days) < day:
            self._days.append({name: np.zeros(len(self.place_ids)) for name in MEASURES})
        return self._days[day - 1]

    @property
    def days(self) -> int:
        """How many days have a count so far."""
        return len(self._days)

    def per_place(self, measure: Measure, days: Sequence[int]) -> dict[str, float]:
        """``measure`` summed over ``days``, per place id."""
        total = np.zeros(len(self.place_ids))
        for day in days:
            if day <= len(self._days):
                total += self._days[day - 1][measure]
        return dict(zip(self.place_ids, total.tolist(), strict=True))

    def total(self, measure: Measure, kind: PlaceKind, days: Sequence[int]) -> float:
        """``measure`` summed over ``days`` and every place of ``kind``."""
        per_place = self.per_place(measure, days)
        return sum(
            value
            for (place, value), place_kind in zip(per_place.items(), self.kinds, strict=True)
            if place_kind == kind
        )

    def deterred_share(self, kind: PlaceKind, days: Sequence[int]) -> float:
        """The share of the crime hazard of ``kind`` places over ``days`` that fell while they
        were deterred: the expected fall in their crime is ``deterrence_share`` times this."""
        exposure = self.total("exposure_s", kind, days)
        return self.total("deterred_exposure_s", kind, days) / exposure if exposure else 0.0
