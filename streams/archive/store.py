"""Where the archive lives: a directory tree under a ``file://`` or ``s3://`` root, opened with
``pyarrow.fs.FileSystem.from_uri``. The one place the archive's files are written, listed, read
and deleted.

A file is written under a temporary name beside its final one and then moved into place (a
rename on a local disk: readers never see half a file). On object storage, where a move is a
copy, the object is written at its final name at once: an upload becomes visible whole.
"""

from __future__ import annotations

import posixpath
import uuid
from typing import Final

import pyarrow.fs as pafs

TEMPORARY_SUFFIX: Final = ".tmp"
_ATOMIC_PUT: Final = frozenset({"s3", "gcs"})
"""File systems whose uploads appear whole (no temporary name needed)."""


class ArchiveStore:
    """The files under one archive root; paths are relative to the root, ``/``-separated."""

    def __init__(self, url: str) -> None:
        self.fs, self.root = pafs.FileSystem.from_uri(url)
        self.root = self.root.rstrip("/")

    def _path(self, relative: str) -> str:
        return f"{self.root}/{relative}" if relative else self.root

    def write(self, relative: str, content: bytes) -> None:
        """Write ``content`` at ``relative`` (replacing a file there), all or nothing."""
        path = self._path(relative)
        directory, name = posixpath.split(path)
        self.fs.create_dir(directory, recursive=True)
        if self.fs.type_name in _ATOMIC_PUT:
            self._put(path, content)
            return
        temporary = f"{directory}/.{name}.{uuid.uuid4().hex}{TEMPORARY_SUFFIX}"
        self._put(temporary, content)
        self.fs.move(temporary, path)

    def _put(self, path: str, content: bytes) -> None:
        with self.fs.open_output_stream(path) as stream:
            stream.write(content)

    def read(self, relative: str) -> bytes:
        """The bytes of the file at ``relative``."""
        with self.fs.open_input_file(self._path(relative)) as stream:
            return bytes(stream.read())

    def names(self, relative: str) -> list[str]:
        """The names in directory ``relative``, sorted (none when it does not exist)."""
        selector = pafs.FileSelector(self._path(relative), allow_not_found=True)
        return sorted(info.base_name for info in self.fs.get_file_info(selector))

    def delete(self, relative: str) -> None:
        """Delete the file at ``relative`` (nothing when it is already gone)."""
        try:
            self.fs.delete_file(self._path(relative))
        except FileNotFoundError:
            return

    def delete_dir(self, relative: str) -> int:
        """Delete directory ``relative`` and everything in it; return the files it held."""
        path = self._path(relative)
        selector = pafs.FileSelector(path, recursive=True, allow_not_found=True)
        found = self.fs.get_file_info(selector)
        try:
            self.fs.delete_dir(path)
        except FileNotFoundError:
            return 0
        return sum(1 for info in found if info.type == pafs.FileType.File)
