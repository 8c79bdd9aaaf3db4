from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from streams.settings import (
    Settings,
    SettingsError,
    documentation,
    report_baseline_days,
    reports_location,
)


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


def test_daily_reports_live_beside_a_local_archive_unless_configured() -> None:
    assert reports_location(Settings()) is None
    local = Settings(archive_url="file:///data/coverwatch/archive")
    assert reports_location(local) == Path("/data/coverwatch/reports")
    assert reports_location(Settings(archive_url="s3://force-bucket/coverwatch")) is None
    configured = Settings(archive_url="s3://force-bucket/coverwatch", reports_dir="/srv/reports")
    assert reports_location(configured) == Path("/srv/reports")


def test_report_settings_are_checked_together() -> None:
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(
            {
                "COVERWATCH_REPORT_HOUR": "24",
                "COVERWATCH_REPORT_PERIOD_DAYS": "0",
                "COVERWATCH_REPORT_BASELINE_FROM": "2026-12-01",
            }
        )
    assert len(raised.value.problems) == 3
    with pytest.raises(SettingsError, match="must be dates"):
        Settings.from_env(
            {"COVERWATCH_REPORT_BASELINE_FROM": "1/12/26", "COVERWATCH_REPORT_BASELINE_TO": "x"}
        )
    fixed = Settings.from_env(
        {
            "COVERWATCH_REPORT_BASELINE_FROM": "2026-10-01",
            "COVERWATCH_REPORT_BASELINE_TO": "2026-10-31",
        }
    )
    assert report_baseline_days(fixed) == (date(2026, 10, 1), date(2026, 10, 31))
    assert report_baseline_days(Settings()) is None


@pytest.mark.parametrize(
    ("url", "wrong"),
    [
        ("redis//127.0.0.1:6379/0", "scheme is missing"),
        ("http://127.0.0.1:6379/0", "scheme is http"),
        ("redis://127.0.0.1:sixty/0", "port is not a number"),
        ("redis://:s3cret@/0", "has no host"),
        ("redis://127.0.0.1:6379/zero", "database 'zero' is not a number"),
        ("unix://", "has no path"),
    ],
)
def test_a_malformed_redis_url_is_a_problem_that_does_not_repeat_it(url: str, wrong: str) -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"COVERWATCH_REDIS_URL": url, "COVERWATCH_CLOCK": "sundial"})
    problems = caught.value.problems
    assert len(problems) == 2  # every problem at once: the URL's and the clock's
    assert any("COVERWATCH_REDIS_URL" in p and wrong in p for p in problems), problems
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://user:pw@cache.force.local:6380/2",
        "unix:///run/r.sock",
        "redis+cluster://redis-1.force.local:7000",
        "rediss+cluster://user:pw@redis-1.force.local:7000/0",
    ],
)
def test_redis_urls_of_every_kind_are_accepted(url: str) -> None:
    assert Settings.from_env({"COVERWATCH_REDIS_URL": url}).redis_url == url


def test_a_redis_cluster_url_with_a_database_other_than_0_is_refused() -> None:
    with pytest.raises(SettingsError, match="database 0 alone"):
        Settings.from_env({"COVERWATCH_REDIS_URL": "redis+cluster://redis-1:7000/2"})


def test_a_malformed_bootstrap_list_names_the_bad_server() -> None:
    with pytest.raises(SettingsError, match="'kafka-2' is not"):
        Settings.from_env({"COVERWATCH_KAFKA_BOOTSTRAP": "kafka-1:9092,kafka-2"})
    assert Settings.from_env({"COVERWATCH_KAFKA_BOOTSTRAP": "a:9092, b:9093"}).kafka_bootstrap


@pytest.mark.parametrize("hours", ["25", "-1", "three"])
def test_a_replay_window_out_of_range_or_not_a_number_is_refused_by_name(hours: str) -> None:
    with pytest.raises(SettingsError, match="COVERWATCH_REPLAY_HOURS"):
        Settings.from_env({"COVERWATCH_REPLAY_HOURS": hours})
    assert Settings.from_env({"COVERWATCH_REPLAY_HOURS": "0"}).replay_hours == 0
