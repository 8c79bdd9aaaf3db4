"""The example values of the output topics (``schemas/examples/<topic>/``), made by the code.

:func:`~streams.devtools.examples.evening.play` runs a scripted evening through the domain and
returns what the service publishes; ``python -m streams.devtools.examples`` writes it to
``schemas/examples/`` (``--check``: only say whether the committed files are up to date).
The service never imports this package (an import-linter contract).
"""
