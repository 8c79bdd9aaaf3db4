"""Progress of the long commands on the terminal (``publish``, ``simulate``): a live count of
records and the time taken, drawn by rich on standard error, and only when standard
error is a terminal (logs, pipes and tests see nothing of it)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Final, TypeVar

from rich.console import Console
from rich.progress import (
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

T = TypeVar("T")
UPDATE_EVERY: Final = 500


def counted(items: Iterable[T], label: str) -> Iterator[T]:
    """``items`` unchanged, counted on the terminal as they are taken."""
    if not sys.stderr.isatty():
        yield from items
        return
    console = Console(file=sys.stderr)
    columns = (
        SpinnerColumn(),
        TextColumn(label),
        MofNCompleteColumn(),
        TextColumn("records"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=None)
        taken = 0
        for item in items:
            yield item
            taken += 1
            if taken % UPDATE_EVERY == 0:
                progress.update(task, completed=taken)
        progress.update(task, completed=taken)
