from __future__ import annotations

import schemas
from streams import topics


def test_topics_match_the_schema_contract() -> None:
    assert tuple(spec.name for spec in topics.TOPICS) == schemas.TOPICS
    assert {s.name for s in topics.TOPICS if s.direction == "input"} == set(schemas.INPUT_TOPICS)


def test_compacted_topics_are_the_entity_tables() -> None:
    assert {s.name for s in topics.TOPICS if s.compacted} == {topics.ROSTER, topics.AREAS}


def test_the_topics_keyed_by_a_radio_are_the_pings_and_the_roster() -> None:
    assert {topics.PINGS, topics.ROSTER} == topics.KEYED_BY_RADIO
