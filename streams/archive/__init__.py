"""The Parquet archive writer (contract A, docs/archive.md): the service that writes it
(:mod:`.service`), its files (:mod:`.store`, :mod:`.parquet`, :mod:`.writer`) and its
maintenance (:mod:`.maintenance`, contract E). The rules it applies are pure, in
:mod:`streams.domain.archive`."""

from streams.archive.maintenance import apply_retention, compact_day
from streams.archive.service import ArchiveService

__all__ = ["ArchiveService", "apply_retention", "compact_day"]
