"""Development tooling: the embedded stack (``coverwatch up``) and the benchmark.

The service never imports this package (``make lint`` checks it with import-linter).
"""
