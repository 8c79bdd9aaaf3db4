"""The offline evaluation: facts over the archive, the statistics and the report.

It reads the archive (``streams.archive`` writes it) with DuckDB and pyarrow and never touches
the live service's broker, store or web code (an import-linter contract keeps it so).
"""
