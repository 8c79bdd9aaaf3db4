from __future__ import annotations

import schemas
from streams import topics
from streams.domain.demand import DEMAND_WINDOWS
from streams.state import DOSE_WINDOWS, VISIT_DAYS_KEPT


def test_topics_match_the_schema_contract() -> None:
    assert tuple(spec.name for spec in topics.TOPICS) == schemas.TOPICS
    assert {s.name for s in topics.TOPICS if s.direction == "input"} == set(schemas.INPUT_TOPICS)


def test_compacted_topics_are_the_entity_tables() -> None:
    assert {s.name for s in topics.TOPICS if s.compacted} == {topics.ROSTER, topics.AREAS}


def test_the_topics_keyed_by_a_radio_are_the_pings_and_the_roster() -> None:
    assert {topics.PINGS, topics.ROSTER} == topics.KEYED_BY_RADIO


def test_reference_topics_are_compacted_and_kept_for_ever() -> None:
    for name in topics.REFERENCE:
        configs = topics.BY_NAME[name].configs
        assert configs == {"cleanup.policy": "compact", "retention.ms": "-1"}


def test_every_other_input_keeps_what_a_rebuild_needs() -> None:
    longest_window_s = max(*DOSE_WINDOWS, *DEMAND_WINDOWS)
    needed_ms = (longest_window_s + VISIT_DAYS_KEPT * 86400) * 1000
    assert needed_ms == topics.REBUILD_HISTORY_MS
    for spec in topics.TOPICS:
        if spec.direction == "input" and spec.name not in topics.REFERENCE:
            assert spec.configs["cleanup.policy"] == "delete", spec.name
            assert int(spec.configs["retention.ms"]) >= needed_ms, spec.name


def test_outputs_keep_the_brokers_defaults() -> None:
    assert all(not spec.configs for spec in topics.TOPICS if spec.direction == "output")
