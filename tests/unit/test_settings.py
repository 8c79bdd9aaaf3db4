from __future__ import annotations

import pytest

from streams.settings import Settings, SettingsError, documentation


def test_defaults_need_nothing_but_a_worker_needs_a_pseudonym_key() -> None:
    assert Settings.from_env({}).kafka_bootstrap == "127.0.0.1:9092"
    with pytest.raises(SettingsError, match="COVERWATCH_PSEUDONYM_KEY"):
        Settings.from_env({}, for_worker=True)


def test_values_are_parsed_by_type() -> None:
    settings = Settings.from_env(
        {
            "COVERWATCH_WEB_PORT": "9001",
            "COVERWATCH_MAX_GAP_S": "240.5",
            "COVERWATCH_CLOCK": "event",
        }
    )
    assert (settings.web_port, settings.max_gap_s, settings.clock) == (9001, 240.5, "event")


def test_every_problem_is_reported_at_once_naming_the_variable() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(
            {
                "COVERWATCH_WEB_PORT": "eighty",
                "COVERWATCH_CLOCK": "sundial",
                "COVERWATCH_TIMEZONE": "Mars/Olympus",
                "COVERWATCH_BATCH_SIZE": "0",
            }
        )
    text = str(caught.value)
    for variable in (
        "COVERWATCH_WEB_PORT",
        "COVERWATCH_CLOCK",
        "COVERWATCH_TIMEZONE",
        "COVERWATCH_BATCH_SIZE",
    ):
        assert variable in text
    assert len(caught.value.problems) == 4


def test_to_env_round_trips() -> None:
    settings = Settings(web_port=1234, topic_prefix="x.", pseudonym_key="k" * 20, clock="event")
    assert Settings.from_env(settings.to_env(), for_worker=True) == settings


def test_every_setting_is_documented_in_the_readme() -> None:
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    missing = [variable for variable, _, _ in documentation() if variable not in readme]
    assert missing == []
