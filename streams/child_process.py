"""A worker's child processes (presence, archive): what they do first (die with the worker,
leave stopping to it) and the frames they talk in over their socket pair (a 4-byte big-endian
length, then the payload)."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import sys

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
