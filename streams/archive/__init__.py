"""The Parquet archive writer (contract A, docs/archive.md): the service that writes it
(:mod:`.service`), which the worker runs in a process of its own (:mod:`.process` on the
worker's side, :mod:`.child` in the process, :mod:`.reports` between them), its files
(:mod:`.store`, :mod:`.parquet`, :mod:`.writer`) and its maintenance (:mod:`.maintenance`,
contract E). The rules it applies are pure, in :mod:`streams.domain.archive`. The package itself
does not import the service (the worker imports :mod:`.process`), so the offline evaluation reads
the files with :mod:`.parquet`'s schemas without the broker client."""

from streams.archive.maintenance import apply_retention, compact_day

__all__ = ["apply_retention", "compact_day"]
