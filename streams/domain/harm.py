"""Harm weighting of demand: crimes, stop-searches and incidents weighted in days.

A harm weight is the number of days of imprisonment at the sentencing-guideline starting point
for an offence, after the Cambridge Crime Harm Index (CCHI). The table shipped here,
:data:`DEFAULT_HARM_WEIGHTS`, is **illustrative**: loosely after the CCHI's order of magnitude,
it is *not* the official index, and a force should load its own with :func:`load_harm_weights`.

Categories are matched on a normalised key (:func:`category_key`: lower case, runs of other
characters as one ``_``), so ``"Burglary - residential"`` and ``"burglary_residential"`` are
the same category. A category missing from the table weighs ``default_days``.

- **Crimes** weigh their category.
- **Stop-searches** weigh their object of search only when something was found reactively:
  objects in ``proactive_objects`` (e.g. drugs: a proactive find carries no harm, as in the
  CCHI) and outcomes in ``no_find_outcomes`` (nothing found, no offence) weigh 0.
- **Incidents** (calls for service) weigh their category times the factor of their grade label,
  so a call graded for resolution without deployment weighs less than an immediate one. This is
  a Coverwatch convention, not part of the CCHI; demand counts keep incident harm apart from
  crime harm (by source) so a call and the crime recorded from it are not silently added up.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from streams.domain.incidents import GRADE_LABELS, GradeLabel, StopSearchRecorded

_NON_WORD: Final = re.compile(r"[^a-z0-9]+")
_DOCUMENT_FIELDS: Final = frozenset(
    {
        "description",
        "categories",
        "default_days",
        "proactive_objects",
        "no_find_outcomes",
        "grade_factors",
    }
)


def category_key(category: str) -> str:
    """The key a category is looked up by: ``"Controlled drugs"`` becomes ``controlled_drugs``."""
    return _NON_WORD.sub("_", category.lower()).strip("_")


@dataclass(frozen=True, slots=True)
class HarmWeights:
    """A harm table: days per category key, and what carries no harm (module docstring).

    ``category_days`` is keyed by :func:`category_key`; ``proactive_objects`` and
    ``no_find_outcomes`` hold keys too. ``grade_factors`` has a factor for every grade label.
    """

    category_days: Mapping[str, float]
    default_days: float
    proactive_objects: frozenset[str]
    no_find_outcomes: frozenset[str]
    grade_factors: Mapping[GradeLabel, float]

    def days_of(self, category: str) -> float:
        """The harm weight of ``category`` in days (``default_days`` when not in the table)."""
        return self.category_days.get(category_key(category), self.default_days)


DEFAULT_HARM_WEIGHTS: Final = HarmWeights(
    category_days=MappingProxyType(
        {
            # Recorded crime categories (police.uk style and the simulator's).
            "violence_against_the_person": 60.0,
            "violence_and_sexual_offences": 60.0,
            "violence_with_injury": 120.0,
            "violence_without_injury": 10.0,
            "sexual_offences": 365.0,
            "robbery": 365.0,
            "robbery_of_personal_property": 365.0,
            "robbery_of_business_property": 730.0,
            "burglary": 40.0,
            "burglary_residential": 40.0,
            "burglary_business_and_community": 20.0,
            "vehicle_offences": 5.0,
            "vehicle_crime": 5.0,
            "theft": 2.0,
            "theft_from_the_person": 10.0,
            "other_theft": 2.0,
            "shoplifting": 1.0,
            "bicycle_theft": 1.0,
            "criminal_damage": 2.0,
            "criminal_damage_and_arson": 5.0,
            "arson": 365.0,
            "public_order": 1.0,
            "possession_of_weapons": 90.0,
            # Drug offences are almost always found by police activity: no harm, as in the CCHI.
            "drugs": 0.0,
            # CAD incident categories without a crime of the same name.
            "assault": 20.0,
            "domestic": 60.0,
            "antisocial_behaviour": 0.0,
            "concern_for_welfare": 0.0,
            "road_traffic_collision": 0.0,
            "suspicious_activity": 0.0,
            # Objects of search, weighed when found reactively.
            "offensive_weapons": 90.0,
            "firearms": 730.0,
            "stolen_goods": 2.0,
            "going_equipped": 2.0,
        }
    ),
    default_days=1.0,
    proactive_objects=frozenset({"controlled_drugs", "drugs"}),
    no_find_outcomes=frozenset(
        {"no_further_action", "a_no_further_action_disposal", "nothing_found"}
    ),
    grade_factors=MappingProxyType(
        {
            "immediate": 1.0,
            "priority": 0.75,
            "scheduled": 0.5,
            "resolution": 0.25,
            # Until a call is graded it weighs as much as an immediate one.
            "ungraded": 1.0,
        }
    ),
)
"""An illustrative table loosely after the Cambridge Crime Harm Index; not the official index."""


def load_harm_weights(document: Mapping[str, object]) -> HarmWeights:
    """A harm table from a parsed JSON/YAML document, or ``ValueError`` saying what is wrong.

    The document is ``{"categories": {category: days, ...}, "default_days": days}`` and,
    optionally, ``"proactive_objects"`` and ``"no_find_outcomes"`` (lists of names),
    ``"grade_factors"`` (a factor for each of ``immediate``, ``priority``, ``scheduled``,
    ``resolution`` and ``ungraded``) and a ``"description"``. Optional parts left out are
    those of :data:`DEFAULT_HARM_WEIGHTS`; the categories replace the default table entirely.
    Weights and factors are finite numbers >= 0; category names may not collide once
    normalised.
    """
    unknown = document.keys() - _DOCUMENT_FIELDS
    if unknown:
        raise ValueError(f"unknown harm table fields: {', '.join(sorted(unknown))}")
    if "categories" not in document or "default_days" not in document:
        raise ValueError("a harm table needs categories and default_days")
    categories = _named_numbers(document["categories"], "categories")
    category_days: dict[str, float] = {}
    for name, days in categories.items():
        key = category_key(name)
        if not key:
            raise ValueError(f"category {name!r} has no letters or digits")
        if key in category_days:
            raise ValueError(f"category {name!r} repeats another category once normalised")
        category_days[key] = days
    default_days = _weight(document["default_days"], "default_days")
    proactive_objects = DEFAULT_HARM_WEIGHTS.proactive_objects
    if "proactive_objects" in document:
        proactive_objects = _names(document["proactive_objects"], "proactive_objects")
    no_find_outcomes = DEFAULT_HARM_WEIGHTS.no_find_outcomes
    if "no_find_outcomes" in document:
        no_find_outcomes = _names(document["no_find_outcomes"], "no_find_outcomes")
    grade_factors = DEFAULT_HARM_WEIGHTS.grade_factors
    if "grade_factors" in document:
        grade_factors = _grade_factors(document["grade_factors"])
    return HarmWeights(
        category_days=MappingProxyType(category_days),
        default_days=default_days,
        proactive_objects=proactive_objects,
        no_find_outcomes=no_find_outcomes,
        grade_factors=grade_factors,
    )


def harm_of_crime(weights: HarmWeights, category: str) -> float:
    """The harm of one recorded crime of ``category``, in days."""
    return weights.days_of(category)


def harm_of_stop_search(weights: HarmWeights, event: StopSearchRecorded) -> float:
    """The harm of one stop-search: 0 for a proactive find or nothing found, else its object's."""
    if category_key(event.object_of_search) in weights.proactive_objects:
        return 0.0
    if category_key(event.outcome) in weights.no_find_outcomes:
        return 0.0
    return weights.days_of(event.object_of_search)


def harm_of_incident(weights: HarmWeights, category: str, grade: GradeLabel) -> float:
    """The harm of one incident of ``category`` graded ``grade``: days times the grade factor."""
    return weights.days_of(category) * weights.grade_factors[grade]


def _weight(value: object, field: str) -> float:
    """A finite number >= 0 (not a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{field} must be a number, not {value!r}")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{field} must be finite and at least 0, not {value!r}")
    return float(value)


def _named_numbers(value: object, field: str) -> dict[str, float]:
    """A mapping of names to weights."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{field} must map names to numbers")
    numbers: dict[str, float] = {}
    for name, number in value.items():
        if not isinstance(name, str):
            raise ValueError(f"{field} keys must be strings, not {name!r}")
        numbers[name] = _weight(number, f"{field}.{name}")
    return numbers


def _names(value: object, field: str) -> frozenset[str]:
    """A list of names, as normalised keys."""
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise ValueError(f"{field} must be a list of strings")
    keys = frozenset(category_key(name) for name in value)
    if "" in keys:
        raise ValueError(f"{field} holds a name without letters or digits")
    return keys


def _grade_factors(value: object) -> Mapping[GradeLabel, float]:
    """A factor for every grade label, and nothing else."""
    factors = _named_numbers(value, "grade_factors")
    if set(factors) != set(GRADE_LABELS):
        raise ValueError(f"grade_factors must give exactly {', '.join(GRADE_LABELS)}")
    return MappingProxyType({label: factors[label] for label in GRADE_LABELS})
