"""Behaviour of harm weighting: the illustrative default table and loading a force's own."""

from __future__ import annotations

import math

import pytest

from streams.domain.harm import (
    DEFAULT_HARM_WEIGHTS,
    HarmWeights,
    category_key,
    harm_of_crime,
    harm_of_incident,
    harm_of_stop_search,
    load_harm_weights,
)
from streams.domain.incidents import GRADE_LABELS, GradeLabel, StopSearchRecorded
from streams.simulator.world import CRIME_CATEGORIES, INCIDENT_CATEGORIES, SEARCH_OBJECTS


def search(object_of_search: str, outcome: str) -> StopSearchRecorded:
    return StopSearchRecorded("SS-1", 0.0, 52.48, -1.89, object_of_search, outcome)


@pytest.mark.parametrize(
    ("category", "key"),
    [
        ("Burglary - residential", "burglary_residential"),
        ("burglary_residential", "burglary_residential"),
        ("  Controlled drugs ", "controlled_drugs"),
        ("Anti-social behaviour", "anti_social_behaviour"),
        ("---", ""),
    ],
)
def test_categories_are_matched_on_a_normalised_key(category: str, key: str) -> None:
    assert category_key(category) == key


@pytest.mark.parametrize(
    ("category", "days"),
    [
        ("Burglary - residential", 40.0),
        ("robbery", 365.0),
        ("Possession of weapons", 90.0),
        ("drugs", 0.0),
        ("a category nobody listed", DEFAULT_HARM_WEIGHTS.default_days),
    ],
)
def test_a_crime_weighs_its_category(category: str, days: float) -> None:
    assert harm_of_crime(DEFAULT_HARM_WEIGHTS, category) == days


@pytest.mark.parametrize(
    ("object_of_search", "outcome", "days"),
    [
        ("Controlled drugs", "Arrest", 0.0),
        ("controlled_drugs", "community_resolution", 0.0),
        ("Offensive weapons", "A no further action disposal", 0.0),
        ("offensive_weapons", "no_further_action", 0.0),
        ("Offensive weapons", "Arrest", 90.0),
        ("firearms", "arrest", 730.0),
        ("something else", "arrest", DEFAULT_HARM_WEIGHTS.default_days),
    ],
)
def test_proactive_finds_and_searches_that_found_nothing_carry_no_harm(
    object_of_search: str, outcome: str, days: float
) -> None:
    assert harm_of_stop_search(DEFAULT_HARM_WEIGHTS, search(object_of_search, outcome)) == days


@pytest.mark.parametrize(
    ("grade", "days"),
    [
        ("immediate", 40.0),
        ("priority", 30.0),
        ("scheduled", 20.0),
        ("resolution", 10.0),
        ("ungraded", 40.0),
    ],
)
def test_an_incident_weighs_its_category_times_its_grade_factor(
    grade: GradeLabel, days: float
) -> None:
    assert harm_of_incident(DEFAULT_HARM_WEIGHTS, "burglary", grade) == days


def test_the_default_table_names_every_category_the_simulator_produces() -> None:
    names = {category_key(name) for name in (*CRIME_CATEGORIES, *INCIDENT_CATEGORIES)}
    names |= {
        category_key(name) for name in SEARCH_OBJECTS
    } - DEFAULT_HARM_WEIGHTS.proactive_objects
    assert names <= DEFAULT_HARM_WEIGHTS.category_days.keys()


def test_the_default_table_cannot_be_changed_in_place() -> None:
    with pytest.raises(TypeError):
        DEFAULT_HARM_WEIGHTS.category_days["burglary"] = 0.0  # type: ignore[index]


def test_a_minimal_table_keeps_the_default_rules_and_replaces_the_categories() -> None:
    weights = load_harm_weights({"categories": {"Burglary - residential": 20}, "default_days": 0.5})
    assert weights == HarmWeights(
        category_days={"burglary_residential": 20.0},
        default_days=0.5,
        proactive_objects=DEFAULT_HARM_WEIGHTS.proactive_objects,
        no_find_outcomes=DEFAULT_HARM_WEIGHTS.no_find_outcomes,
        grade_factors=DEFAULT_HARM_WEIGHTS.grade_factors,
    )
    assert harm_of_crime(weights, "robbery") == 0.5


def test_a_full_table_sets_every_rule() -> None:
    factors = dict.fromkeys(GRADE_LABELS, 1.0)
    weights = load_harm_weights(
        {
            "description": "Force X, 2026 review",
            "categories": {"burglary": 10, "robbery": 100.5},
            "default_days": 0,
            "proactive_objects": ["Stolen goods"],
            "no_find_outcomes": ["Nothing found"],
            "grade_factors": factors,
        }
    )
    assert weights.proactive_objects == frozenset({"stolen_goods"})
    assert weights.no_find_outcomes == frozenset({"nothing_found"})
    assert dict(weights.grade_factors) == factors
    assert harm_of_stop_search(weights, search("Controlled drugs", "arrest")) == 0.0
    assert harm_of_stop_search(weights, search("Stolen goods", "arrest")) == 0.0
    assert harm_of_incident(weights, "robbery", "resolution") == 100.5


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"categories": {}, "default_days": 1, "colour": "red"}, "unknown harm table fields"),
        ({"default_days": 1}, "needs categories"),
        ({"categories": {}}, "needs categories and default_days"),
        ({"categories": [], "default_days": 1}, "must map names"),
        ({"categories": {"burglary": -1}, "default_days": 1}, "at least 0"),
        ({"categories": {"burglary": True}, "default_days": 1}, "must be a number"),
        ({"categories": {"burglary": "40"}, "default_days": 1}, "must be a number"),
        ({"categories": {"burglary": math.inf}, "default_days": 1}, "finite"),
        ({"categories": {"burglary": math.nan}, "default_days": 1}, "finite"),
        ({"categories": {"Burglary": 1, "burglary": 2}, "default_days": 1}, "repeats"),
        ({"categories": {"--": 1}, "default_days": 1}, "no letters"),
        ({"categories": {1: 1}, "default_days": 1}, "keys must be strings"),
        ({"categories": {}, "default_days": None}, "must be a number"),
        ({"categories": {}, "default_days": 1, "proactive_objects": "drugs"}, "list of strings"),
        ({"categories": {}, "default_days": 1, "no_find_outcomes": [""]}, "without letters"),
        ({"categories": {}, "default_days": 1, "grade_factors": {"immediate": 1}}, "exactly"),
    ],
)
def test_a_bad_table_is_refused_with_the_reason(
    document: dict[object, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        load_harm_weights(document)  # type: ignore[arg-type]
