"""`coverwatch up` opens with whole days of history, archived beside the stack."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from streams.devtools.stack.up import UpOptions, simulator_command, stack_settings
from streams.settings import Settings, reports_location


def option(command: list[str], name: str) -> str:
    return command[command.index(name) + 1]


def test_the_demo_publishes_its_days_of_history_and_the_evening_so_far_at_once() -> None:
    command = simulator_command(UpOptions(history_days=3), date(2026, 12, 6))
    assert option(command, "--start") == "2026-12-03T00:00:00+00:00"  # three whole days
    assert float(option(command, "--preroll-hours")) == 3 * 24 + 18  # to 18:00 on the 6th
    assert option(command, "--hours") == "0"
    without = simulator_command(UpOptions(history_days=0), date(2026, 12, 6))
    assert option(without, "--start") == "2026-12-06T15:00:00+00:00"
    assert float(option(without, "--preroll-hours")) == 3


def test_the_stack_archives_into_its_directory_unless_an_archive_is_set(tmp_path: Path) -> None:
    settings = stack_settings(Settings(), "127.0.0.1:9092", "redis://x/0", 8080, tmp_path)
    assert settings.archive_url == (tmp_path / "archive").as_uri()
    assert reports_location(settings) == tmp_path / "reports"
    assert settings.clock == "event"
    given = Settings(archive_url="s3://force/coverwatch", reports_dir="/srv/reports")
    kept = stack_settings(given, "127.0.0.1:9092", "redis://x/0", 8080, tmp_path)
    assert kept.archive_url == "s3://force/coverwatch"
