"""Expected failures of the command line, table-driven: each gives one clear line on standard
error and exit 2, never a traceback. No service is running: the broker and Redis are closed
loopback ports (nothing listens on port 1)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from streams.cli import main

CLOSED_BROKER = "127.0.0.1:1"
CLOSED_REDIS = "redis://127.0.0.1:1/0"
PACK = Path(__file__).parents[2] / "streams" / "simulator" / "data" / "area-pack.geojson"


@dataclass(frozen=True)
class Failure:
    """One way to fail: the command, its environment and files, and what the line says."""

    argv: list[str]
    says: str
    env: dict[str, str] = field(default_factory=dict)
    files: Callable[[Path], None] = lambda _: None


def recording(directory: Path) -> None:
    (directory / "one.jsonl").write_text('{"topic": "crimes.recorded", "key": null, "value": {}}\n')


def bad_pack(directory: Path) -> None:
    (directory / "pack.geojson").write_text('{"type": "Feature"}')


def archive(directory: Path) -> None:
    (directory / "archive").mkdir()


FAILURES = {
    "topics, broker closed": Failure(["topics"], f"the broker at {CLOSED_BROKER} did not answer"),
    "areas load, broker closed": Failure(
        ["areas", "load", str(PACK)], f"the broker at {CLOSED_BROKER} did not answer"
    ),
    "publish, broker closed": Failure(
        ["publish", "{dir}/one.jsonl"],
        f"the broker at {CLOSED_BROKER} did not answer",
        {},
        recording,
    ),
    "publish, no such file": Failure(["publish", "{dir}/missing.jsonl"], "is not a file"),
    "publish, speed not above 0": Failure(
        ["publish", str(PACK), "--speed", "0"], "--speed must be above 0"
    ),
    "rebuild, Redis closed": Failure(["rebuild"], f"Redis at {CLOSED_REDIS} is unreachable"),
    "adopt, Redis closed": Failure(["adopt"], f"Redis at {CLOSED_REDIS} is unreachable"),
    "areas validate, no such file": Failure(
        ["areas", "validate", "{dir}/none.geojson"], "No such file or directory"
    ),
    "areas validate, not a pack": Failure(
        ["areas", "validate", "{dir}/pack.geojson"],
        "area pack has 1 problem: the document is not a GeoJSON FeatureCollection",
        {},
        bad_pack,
    ),
    "areas rings, ring width 0": Failure(
        ["areas", "rings", str(PACK), "--ring-m", "0"], "--ring-m must be above 0"
    ),
    "report, no archive": Failure(
        ["report", "--from", "2026-12-01", "--to", "2026-12-01", "--out", "{dir}/r"],
        "no archive: pass --archive or set COVERWATCH_ARCHIVE_URL",
    ),
    "report, archive not there": Failure(
        [
            "report",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-01",
            "--out",
            "{dir}/r",
            "--archive",
            "file://{dir}/nowhere",
        ],
        "is not a directory",
    ),
    "report, period reversed": Failure(
        [
            "report",
            "--from",
            "2026-12-05",
            "--to",
            "2026-12-01",
            "--out",
            "{dir}/r",
            "--archive",
            "file://{dir}/archive",
        ],
        "the period ends (2026-12-01) before it starts (2026-12-05)",
        {},
        archive,
    ),
    "report, one baseline bound": Failure(
        [
            "report",
            "--from",
            "2026-12-01",
            "--to",
            "2026-12-01",
            "--out",
            "{dir}/r",
            "--archive",
            "file://{dir}/archive",
            "--baseline-from",
            "2026-11-01",
        ],
        "give both --baseline-from and --baseline-to, or neither",
        {},
        archive,
    ),
}


@pytest.mark.parametrize("failure", FAILURES.values(), ids=FAILURES.keys())
def test_an_expected_failure_is_one_line_and_exit_2(
    failure: Failure,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("COVERWATCH_KAFKA_BOOTSTRAP", CLOSED_BROKER)
    monkeypatch.setenv("COVERWATCH_REDIS_URL", CLOSED_REDIS)
    monkeypatch.delenv("COVERWATCH_ARCHIVE_URL", raising=False)
    for name, value in failure.env.items():
        monkeypatch.setenv(name, value)
    failure.files(tmp_path)

    code = main([arg.replace("{dir}", str(tmp_path)) for arg in failure.argv])

    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2
    assert len(lines) == 1, lines
    assert failure.says in lines[0]
    assert lines[0].startswith("coverwatch "), lines[0]
    assert "Traceback" not in err


def test_bad_settings_are_listed_one_line_each_and_exit_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COVERWATCH_REDIS_URL", "redis//127.0.0.1:6379/0")
    monkeypatch.setenv("COVERWATCH_WEB_PORT", "eighty")

    with pytest.raises(SystemExit) as exited:
        main(["topics"])

    assert exited.value.code == 2
    text = capsys.readouterr().err
    assert "COVERWATCH_REDIS_URL" in text
    assert "COVERWATCH_WEB_PORT" in text
    assert "Traceback" not in text
