"""Expected failures of the command line give one clear line and exit 2, never a traceback:
a broker that does not answer (a closed loopback port), a missing recording."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.cli import main

CLOSED_PORT = "127.0.0.1:1"
PACK = Path(__file__).parents[2] / "streams" / "simulator" / "data" / "area-pack.geojson"


@pytest.fixture
def no_broker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVERWATCH_KAFKA_BOOTSTRAP", CLOSED_PORT)


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize(
    "argv",
    [
        ["topics"],
        ["areas", "load", str(PACK)],
        ["publish", "{recording}"],
    ],
    ids=["topics", "areas-load", "publish"],
)
def test_a_broker_that_does_not_answer_is_one_line_and_exit_2(
    argv: list[str], no_broker: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    recording = tmp_path / "one.jsonl"
    recording.write_text('{"topic": "crimes.recorded", "key": null, "value": {}}\n')

    code = main([arg.format(recording=recording) for arg in argv])

    lines = error_lines(capsys)
    assert code == 2
    assert len(lines) == 1, lines
    assert f"the broker at {CLOSED_PORT} did not answer" in lines[0]


def test_a_missing_recording_is_named_before_the_broker_is_tried(
    no_broker: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["publish", str(tmp_path / "missing.jsonl")])

    assert code == 2
    assert error_lines(capsys) == [
        f"coverwatch publish: {tmp_path / 'missing.jsonl'} is not a file"
    ]


def test_a_malformed_redis_url_is_listed_with_every_other_problem_and_exits_2(
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
