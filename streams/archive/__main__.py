"""``python -m streams.archive FD``: the worker's archive process
(:func:`streams.archive.child.main`)."""

from streams.archive.child import main

main()
