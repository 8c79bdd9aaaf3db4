"""The archive process itself (``python -m streams.archive FD``): runs the archive writer
(:class:`~streams.archive.service.ArchiveService`) with its own event loop and reports its
counts to the worker on the inherited socket once a second, until the worker closes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Sequence
from typing import Final

import msgspec

from streams.archive.reports import Report
from streams.archive.service import ArchiveService
from streams.child_process import run_child, write_frame
from streams.metrics import ArchiveMetricsRecorder
from streams.settings import Settings

log = logging.getLogger(__name__)

REPORT_EVERY_S: Final = 1.0
GC_THRESHOLDS: Final = (50_000, 50, 100)
"""Open blocks hold many long-lived rows; fewer, larger young collections keep the collector
from rescanning them (as in the worker and its presence process)."""


class ArchiveCrashedError(RuntimeError):
    """The archive service crashed: the process leaves, and the worker starts it again."""


async def _serve(settings: Settings, sock: socket.socket) -> None:
    """Run the archive until the worker closes the socket; report once a second."""
    recorder = ArchiveMetricsRecorder()
    service = ArchiveService(settings, recorder)
    encoder = msgspec.msgpack.Encoder()
    reader, writer = await asyncio.open_unix_connection(sock=sock)
    closed = asyncio.ensure_future(reader.read())  # the worker sends nothing: EOF means stop
    cpu = time.process_time()

    async def report() -> None:
        nonlocal cpu
        now = time.process_time()
        recorder.archive_cpu(now - cpu)
        cpu = now
        await write_frame(writer, encoder.encode(Report(recorder.drain())))

    await service.start()
    try:
        while not closed.done():
            await asyncio.wait([closed], timeout=REPORT_EVERY_S)
            if service.crashed:
                raise ArchiveCrashedError(f"the archive crashed: {service.crash_reason!r}")
            with contextlib.suppress(OSError):
                await report()
    finally:
        await service.stop()
        with contextlib.suppress(OSError):
            await report()
        writer.close()


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m streams.archive FD``: archive, reporting to the worker on socket ``FD``."""
    run_child("archive", _serve, GC_THRESHOLDS, argv)
