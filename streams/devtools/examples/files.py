"""The example files of the output topics: ``schemas/examples/<topic>/<name>.json``.

Each file holds one value as the service publishes it, indented for reading; the files of an
output topic are exactly what :func:`~streams.devtools.examples.evening.play` returns, so a file
left from an earlier run is removed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

from streams.devtools.examples.evening import Records, play

EXAMPLES_DIR: Final = Path(__file__).resolve().parents[3] / "schemas" / "examples"
"""``schemas/examples`` of the checkout this package runs from."""


def rendered() -> dict[Path, str]:
    """The text of every generated example file, by its path under :data:`EXAMPLES_DIR`."""
    return {
        Path(topic) / f"{name}.json": _text(value)
        for topic, records in play().items()
        for name, value in records.items()
    }


def _text(value: object) -> str:
    """A value as an example file: two-space JSON, keys in publication order, a final newline."""
    return json.dumps(value, indent=2, ensure_ascii=False) + "\n"


def committed(directory: Path, topics: list[str]) -> dict[Path, str]:
    """The text of every example file of ``topics`` under ``directory``."""
    return {
        path.relative_to(directory): path.read_text(encoding="utf-8")
        for topic in topics
        for path in sorted((directory / topic).glob("*.json"))
    }


def write(directory: Path = EXAMPLES_DIR) -> list[Path]:
    """Replace the output topics' example files under ``directory``; the paths written."""
    files = rendered()
    topics = sorted({path.parts[0] for path in files})
    for stale in committed(directory, topics):
        (directory / stale).unlink()
    for path, text in files.items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text(text, encoding="utf-8")
    return sorted(files)


def outdated(directory: Path = EXAMPLES_DIR) -> list[Path]:
    """The example files that differ from what the code makes now (missing, changed or extra)."""
    files = rendered()
    existing = committed(directory, sorted({path.parts[0] for path in files}))
    return sorted(
        path for path in files.keys() | existing.keys() if files.get(path) != existing.get(path)
    )


__all__ = ["EXAMPLES_DIR", "Records", "committed", "outdated", "rendered", "write"]
