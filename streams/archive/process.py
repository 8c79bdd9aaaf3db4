"""The worker's side of its archive process (``python -m streams.archive FD``): starts it, counts
what it reports, and starts it again when it ends unasked.

The archive runs in a process of its own so that its per-record work (decode, pseudonyms, rows,
Parquet) never takes the worker's event loop, which every agent shares: it reads the archived
topics itself with its own consumer group (:mod:`streams.archive.service`). The worker sends it
nothing; closing the socket tells it to stop. It reports its counts once a second
(:class:`~streams.metrics.ArchiveMetricsRecorder`), which the worker adds to its own metrics.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from typing import Any, Final

import msgspec
from mode import Service

from streams.archive.reports import Report
from streams.child_process import read_frame, spawn_child
from streams.metrics import Metrics
from streams.settings import Settings

STOP_GRACE_S: Final = 1.0
"""How long a stopping worker waits for its archive process to leave its group before it goes
on stopping the rest (the process goes on leaving, and dies with the worker at the latest: its
group then hands its partitions on after the session timeout). Waiting longer would hold up the
worker's own consumer, which Faust cannot stop for good once its broker has been gone a few
seconds (see :class:`~streams.worker.ShutdownDeadline`)."""
LOST_GRACE_S: Final = 1.0
"""How long an archive process whose socket closed unasked gets to exit before it is killed."""
RESTART_PAUSE_S: Final = 5.0
"""How long after an unasked end the archive process is started again."""


class ArchiveProcess(Service):
    """Starts the archive process, applies its reports and starts it again when it ends."""

    def __init__(self, settings: Settings, metrics: Metrics, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.settings = settings
        self.metrics = metrics
        self._child: asyncio.subprocess.Process | None = None
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._decoder = msgspec.msgpack.Decoder(Report)

    def command(self, fd: int) -> list[str]:
        """The child's command line; it reports on the socket ``fd``."""
        return [sys.executable, "-m", "streams.archive", str(fd)]

    async def on_start(self) -> None:
        await self._start()

    async def on_stop(self) -> None:
        """Close the socket (the child stops its service and leaves its group) and give it a
        moment; it is not killed (it dies with the worker)."""
        await self._close(STOP_GRACE_S, kill=False)

    @Service.task
    async def _watch(self) -> None:
        while not self.should_stop:
            reader = self._reader
            if reader is not None:
                await self._take_reports(reader)
            if self.should_stop:
                break
            code = await self._close(LOST_GRACE_S)
            self.metrics.archive_process_ended()
            self.log.warning(
                "the archive process ended (exit %s); starting it again in %.0f s",
                code,
                RESTART_PAUSE_S,
            )
            await self.sleep(RESTART_PAUSE_S)
            if not self.should_stop:
                await self._start()

    async def _take_reports(self, reader: asyncio.StreamReader) -> None:
        """Apply the child's reports until its socket closes."""
        while True:
            try:
                frame = await read_frame(reader)
            except (OSError, asyncio.IncompleteReadError):
                return
            try:
                self.metrics.apply_archive(self._decoder.decode(frame).calls)
            except Exception:  # a report that makes no sense is logged; the archive goes on
                self.log.exception("a report of the archive process could not be taken")

    async def _start(self) -> None:
        self._child, self._reader, self._writer = await spawn_child(self.command, self.settings)
        self.log.info("archive process %d started", self._child.pid)

    async def _close(self, grace_s: float, *, kill: bool = True) -> int | None:
        """Close the socket and reap the child (killed, when ``kill``, if it does not leave
        within ``grace_s``); its exit code (None: it had not left)."""
        if self._writer is not None:
            self._writer.close()
            self._writer, self._reader = None, None
        child, self._child = self._child, None
        if child is None:
            return None
        try:
            return await asyncio.wait_for(child.wait(), grace_s)
        except TimeoutError:
            if not kill:
                return None
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            return await child.wait()
