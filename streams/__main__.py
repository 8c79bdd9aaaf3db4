"""``python -m streams`` is the ``coverwatch`` command."""

import sys

from streams.cli import main

sys.exit(main())
