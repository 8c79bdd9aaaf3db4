"""The key layout in code: the committed table is generated from it, and the keys the state
modules build are all in it."""

from __future__ import annotations

from pathlib import Path

from streams.metrics import MetricsRecorder
from streams.state import State
from streams.state import keys as layout
from streams.state.scripts import APPLY_LUA, UPGRADE_WINDOWS_LUA, lua

DOC = Path(__file__).resolve().parents[3] / "docs" / "redis-keys.md"


def test_the_committed_key_table_is_the_one_generated_from_the_layout() -> None:
    assert DOC.read_text() == layout.markdown(), "run: python -m streams.state > docs/redis-keys.md"


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
        state.cad_progress_key(1),
        state.assigned_version_key(0),
        *state.directory_version_keys(2),
        *(f"{family}:{suffix}" for family in state.window_families() for suffix in ("win", "out")),
    ]
    assert layout.undocumented(named, "cw") == []


def test_the_lua_scripts_are_package_resources_and_windows_are_upgraded_apart() -> None:
    assert APPLY_LUA.endswith(lua("apply"))
    assert "redis.call('DEL', win)" in UPGRADE_WINDOWS_LUA
    assert ":win" not in APPLY_LUA
