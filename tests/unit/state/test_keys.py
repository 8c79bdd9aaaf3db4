"""The key layout in code: the committed table is generated from it, and the keys the state
modules build are all in it."""

from __future__ import annotations

import re
from pathlib import Path

from streams.metrics import MetricsRecorder
from streams.state import State
from streams.state import keys as layout
from streams.state.scripts import APPLY_LUA, UPGRADE_WINDOWS_LUA, lua

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "redis-keys.md"
MENTION = re.compile(r"`(?:P:)?(\{[a-zA-Z0-9._-]+\}:[^`\s]+)`")
"""A key named in prose: ``P:{tag}:suffix`` or ``{tag}:suffix`` (N: a partition, *: any)."""


def test_the_committed_key_table_is_the_one_generated_from_the_layout() -> None:
    assert DOC.read_text() == layout.markdown(), "run: python -m streams.state > docs/redis-keys.md"


def test_the_keys_the_readme_and_docs_name_are_in_the_layout() -> None:
    pages = [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]
    mentions = {
        "P:" + mention.replace(".N}", ".0}")
        for page in pages
        if page != DOC
        for mention in MENTION.findall(page.read_text())
    }
    families = {mention.removesuffix("*"): mention.endswith("*") for mention in mentions}
    keys = [key for key, any_suffix in families.items() if not any_suffix]
    slots = [slot for slot, any_suffix in families.items() if any_suffix]
    assert len(keys) >= 5
    assert layout.undocumented(keys, "P") == []
    patterns = [family.pattern.replace("<prefix>", "P") for family in layout.LAYOUT]
    assert [slot for slot in slots if not any(p.startswith(slot) for p in patterns)] == []


def test_every_family_has_its_own_pattern() -> None:
    patterns = [family.pattern for family in layout.LAYOUT]
    assert len(set(patterns)) == len(patterns)


def test_a_key_of_each_family_is_documented_and_an_unknown_one_is_not() -> None:
    keys = layout.Keys("cw")
    examples = [
        family.of(keys.slot(layout.PLACEHOLDER.sub("7", family.tag)), *["x"] * 2)
        if "<" in family.suffix
        else family.of(keys.slot(layout.PLACEHOLDER.sub("7", family.tag)))
        for family in layout.LAYOUT
    ]
    assert layout.undocumented(examples, "cw") == []
    assert layout.undocumented(["cw:{directory}:rota", "other:{meta}:epoch"], "cw") == [
        "cw:{directory}:rota",
        "other:{meta}:epoch",
    ]


def test_the_keys_the_state_names_are_in_the_layout() -> None:
    state = State("redis://127.0.0.1:1/0", "cw", MetricsRecorder())
    named = [
        state.roster_key,
        state.roster_history_key,
        state.roster_version_key,
        state.on_duty_key,
        state.area_features_key,
        state.area_version_key,
        state.clock_key,
        state.leader_key,
        state.epoch_key,
        state.events_channel,
        state.watermark_key("airwave.pings", 3),
        *(state.watermark_key(source, 0) for source in layout.SHARED_TAGS),
        state.cad_progress_key(1),
        state.assigned_version_key(0),
        *state.directory_version_keys(2),
        *(f"{family}:{suffix}" for family in state.window_families() for suffix in ("win", "out")),
    ]
    assert layout.undocumented(named, "cw") == []


def hash_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes to choose its slot."""
    return key[key.index("{") + 1 : key.index("}")]


def test_a_shared_familys_writers_keep_their_watermark_in_that_familys_slot() -> None:
    state = State("redis://127.0.0.1:1/0", "cw", MetricsRecorder())
    assert hash_tag(state.watermark_key("resources.roster", 0)) == hash_tag(state.roster_key)
    assert hash_tag(state.watermark_key("areas.definitions", 0)) == hash_tag(
        state.area_features_key
    )
    assert hash_tag(state.watermark_key("clock.ticks", 0)) == hash_tag(state.clock_key)
    assert hash_tag(state.watermark_key("coverage", 0)) == hash_tag(state.leader_key)
    assert hash_tag(state.watermark_key("airwave.pings", 2)) == "airwave.pings.2"


def test_the_lua_scripts_are_package_resources_and_windows_are_upgraded_apart() -> None:
    assert APPLY_LUA.endswith(lua("apply"))
    assert "redis.call('DEL', win)" in UPGRADE_WINDOWS_LUA
    assert ":win" not in APPLY_LUA
