"""The long commands' progress: drawn only on a terminal, and the records pass unchanged."""

from __future__ import annotations

import io
import sys

import pytest

from streams.progress import counted


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_records_pass_unchanged_and_nothing_is_drawn_off_a_terminal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    written = io.StringIO()
    monkeypatch.setattr(sys, "stderr", written)
    assert list(counted(range(1234), "publishing")) == list(range(1234))
    assert written.getvalue() == ""


def test_a_terminal_sees_the_count(monkeypatch: pytest.MonkeyPatch) -> None:
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert list(counted(iter(range(1234)), "publishing")) == list(range(1234))
    assert "publishing" in terminal.getvalue()
    assert "1234" in terminal.getvalue()
