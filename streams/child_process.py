"""A worker's child processes (presence, archive): how the worker starts one on a socket pair,
what a child does first (die with the worker, leave stopping to it, log and collect garbage as
the worker does), and the frames they talk in (a 4-byte big-endian length, then the payload)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Callable, Coroutine, Sequence

from streams.settings import Settings

_PR_SET_PDEATHSIG = 1
_LENGTH = 4


def die_with_parent(parent_pid: int) -> None:
    """Get SIGKILL when the worker dies (Linux prctl); leave at once if it already has."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:
        sys.exit(0)


def start_as_child() -> None:
    """Die with the worker (``COVERWATCH_PARENT_PID``) and ignore SIGINT and SIGTERM: the worker
    stops its children by closing their sockets, after its own work is done."""
    die_with_parent(int(os.environ.get("COVERWATCH_PARENT_PID", os.getppid())))
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


async def write_frame(writer: asyncio.StreamWriter, payload: bytes) -> None:
    """Send one length-prefixed frame."""
    writer.write(len(payload).to_bytes(_LENGTH, "big") + payload)
    await writer.drain()


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    """Receive one length-prefixed frame (``IncompleteReadError`` once the other side closed)."""
    length = int.from_bytes(await reader.readexactly(_LENGTH), "big")
    return await reader.readexactly(length)


Spawned = tuple[asyncio.subprocess.Process, asyncio.StreamReader, asyncio.StreamWriter]


async def spawn_child(command: Callable[[int], list[str]], settings: Settings) -> Spawned:
    """Start ``command(fd)`` with ``settings`` in its environment and the other end of a socket
    pair as ``fd``; the process and the worker's end of the socket."""
    ours, theirs = socket.socketpair()
    env = {**os.environ, **settings.to_env(), "COVERWATCH_PARENT_PID": str(os.getpid())}
    try:
        child = await asyncio.create_subprocess_exec(
            *command(theirs.fileno()),
            pass_fds=[theirs.fileno()],
            env=env,
            stdin=asyncio.subprocess.DEVNULL,
        )
    finally:
        theirs.close()
    reader, writer = await asyncio.open_unix_connection(sock=ours)
    return child, reader, writer


def run_child(
    name: str,
    serve: Callable[[Settings, socket.socket], Coroutine[object, object, None]],
    gc_thresholds: tuple[int, int, int],
    argv: Sequence[str] | None = None,
) -> None:
    """A child's ``main``: :func:`start_as_child`, settings from the environment, log lines
    tagged ``[name pid]``, the collector tuned, then ``serve`` on the inherited socket (the
    first argument) until it returns."""
    args = sys.argv[1:] if argv is None else argv
    start_as_child()
    settings = Settings.from_env()
    logging.basicConfig(
        level=settings.log_level.upper(),
        format=f"[%(asctime)s] [{name} %(process)d] %(levelname)s %(name)s: %(message)s",
    )
    gc.freeze()
    gc.set_threshold(*gc_thresholds)
    with contextlib.closing(socket.socket(fileno=int(args[0]))) as sock:
        asyncio.run(serve(settings, sock))
