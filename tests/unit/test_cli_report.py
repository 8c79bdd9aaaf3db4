"""``coverwatch report``: its arguments, and what it says when it cannot run."""

from __future__ import annotations

from datetime import date

import pytest

from streams.cli import main, parser


def test_report_reads_its_days_and_defaults_the_archive_to_the_setting():
    args = parser().parse_args(
        ["report", "--from", "2026-12-01", "--to", "2026-12-07", "--out", "out"]
    )
    assert (args.from_day, args.to_day) == (date(2026, 12, 1), date(2026, 12, 7))
    assert args.baseline_from is None
    assert args.archive == ""


def test_report_without_an_archive_says_how_to_give_one(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("COVERWATCH_ARCHIVE_URL", raising=False)
    code = main(["report", "--from", "2026-12-01", "--to", "2026-12-07", "--out", str(tmp_path)])
    assert code == 2
    assert "COVERWATCH_ARCHIVE_URL" in capsys.readouterr().err


def test_report_wants_both_ends_of_a_baseline(capsys, tmp_path):
    code = main(
        ["report", "--from", "2026-12-01", "--to", "2026-12-07", "--baseline-from",
         "2026-11-01", "--out", str(tmp_path), "--archive", f"file://{tmp_path}"]
    )  # fmt: skip
    assert code == 2
    assert "--baseline-to" in capsys.readouterr().err


def test_a_day_that_is_not_a_date_is_refused():
    with pytest.raises(SystemExit):
        parser().parse_args(["report", "--from", "01/12/2026", "--to", "2026-12-07", "--out", "o"])
