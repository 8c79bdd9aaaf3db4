"""``coverwatch simulate``: whole days with ``--days``, and planted effects from the flags."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from streams.cli import main
from streams.simulator.publisher import read_file

START = "2026-11-02T00:00:00+00:00"


def test_days_simulate_whole_days_with_the_planted_effect(tmp_path: Path) -> None:
    out = tmp_path / "days.jsonl"
    flags = ["--days", "1", "--officers", "6", "--start", START, "--out", str(out)]
    effects = ["--area-crimes-per-day", "4", "--effect-from-day", "1", "--deterrence-share", "0.5"]
    assert main(["simulate", *flags, *effects]) == 0
    records = list(read_file(out))
    assert 86_000 < records[-1].at <= 86_400
    crimes = Counter(record.topic for record in records)["crimes.recorded"]
    assert crimes > 78 * 4 * 0.5, "every area and ring has crimes of its own"


def test_a_planted_effect_without_an_effect_day_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "never.jsonl"
    assert main(["simulate", "--out", str(out), "--deterrence-share", "0.5"]) == 2
    assert "needs effect_from_day and area_crimes_per_day" in capsys.readouterr().err
    assert not out.exists()
