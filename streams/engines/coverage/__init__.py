"""The coverage evaluator (:mod:`.engine`), what it reads (:mod:`.reading`) and what it produces
(:mod:`.views`); when it judges, views and publishes an area is the domain's
(``streams.domain.scheduling``)."""

from streams.engines.coverage.engine import (
    EVALUATE_EVERY_S,
    CoverageEngine,
    judging_hold_s,
)
from streams.engines.coverage.reading import DEMAND_SOURCES, read_areas

__all__ = [
    "DEMAND_SOURCES",
    "EVALUATE_EVERY_S",
    "CoverageEngine",
    "judging_hold_s",
    "read_areas",
]
