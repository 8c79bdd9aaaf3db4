"""``--help`` documents every option of every command, in plain text (no RST markup)."""

from __future__ import annotations

import argparse
from collections.abc import Iterator

import pytest

from streams.cli import main, parser


def commands(
    command: argparse.ArgumentParser, name: str = "coverwatch"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield name, command
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from commands(sub, f"{name} {sub_name}")


EVERY_COMMAND = list(commands(parser()))


@pytest.mark.parametrize(("name", "command"), EVERY_COMMAND, ids=[n for n, _ in EVERY_COMMAND])
def test_every_option_has_a_help_text_without_markup(
    name: str, command: argparse.ArgumentParser
) -> None:
    undocumented = [
        action.option_strings or [action.dest]
        for action in command._actions
        if not isinstance(action, argparse._HelpAction) and not action.help
    ]
    assert undocumented == [], f"{name}: options without help"
    assert "``" not in command.format_help(), f"{name}: RST markup in --help"


@pytest.mark.parametrize("name", [n for n, _ in EVERY_COMMAND])
def test_help_of_every_command_exits_0(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*name.split()[1:], "--help"])
    assert exited.value.code == 0
    assert "usage: coverwatch" in capsys.readouterr().out
