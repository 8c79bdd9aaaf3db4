"""What the archive process sends its worker: a :class:`Report` of recorded metrics calls, as
one msgpack frame (:func:`streams.child_process.write_frame`), about once a second."""

from __future__ import annotations

from typing import Any

import msgspec


class Report(msgspec.Struct, frozen=True):
    """The archive's metrics calls since the last report (see
    :class:`~streams.metrics.ArchiveMetricsRecorder`)."""

    calls: list[tuple[str, list[Any]]]
