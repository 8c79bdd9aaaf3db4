"""``python -m streams.devtools.bench``."""

from streams.devtools.bench.runner import main

main()
