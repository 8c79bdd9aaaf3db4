"""JSON for values kept in memory for long: orjson's output in a buffer of its own size.

``orjson.dumps`` (3.12 and later) returns the bytes object it wrote into: at least 4 KB and
rounded up to a power of two, never shrunk (``sys.getsizeof`` shows the length, the allocation
stays). A result used at once and dropped costs nothing more; one kept for long (a recent fix's
stored form in every track, an area's last snapshot) holds 4-16 KB for a hundred bytes or a few
KB of JSON, and the process holds thousands of them.
"""

from __future__ import annotations

import orjson


def kept_json(value: object, option: int | None = None) -> bytes:
    """``orjson.dumps(value, option=option)``, copied into a bytes object of its own size."""
    return bytes(memoryview(orjson.dumps(value, option=option)))
