"""The offline evaluation of the Impact Areas programme: facts over the archive, their
statistics and the report (no service code: see docs/architecture.md)."""
