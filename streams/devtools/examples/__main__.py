"""``python -m streams.devtools.examples [--check]``: write (or check) the output examples."""

from __future__ import annotations

import argparse
import sys

from streams.devtools.examples.files import EXAMPLES_DIR, outdated, write


def main(argv: list[str] | None = None) -> int:
    """Write the generated examples; with ``--check``, list the outdated ones and return 1."""
    parser = argparse.ArgumentParser(
        prog="python -m streams.devtools.examples", description=__doc__
    )
    parser.add_argument("--check", action="store_true", help="only report outdated files")
    options = parser.parse_args(argv)
    if options.check:
        stale = outdated()
        for path in stale:
            print(f"outdated: {EXAMPLES_DIR / path}")
        return 1 if stale else 0
    for path in write():
        print(f"wrote {EXAMPLES_DIR / path}")
    return 0


sys.exit(main())
