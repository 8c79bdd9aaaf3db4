"""``python -m streams.engines.presence_process FD``: the presence process serving the worker on
the inherited socket ``FD`` (:func:`streams.engines.presence_process.child.main`)."""

from streams.engines.presence_process.child import main

main()
