"""The JSONL recording format of simulations and replays (``coverwatch publish FILE.jsonl``).

One record per line::

    {"at": 12.345, "topic": "airwave.pings", "key": "2350017", "value": {...}}

``at`` is seconds after the recording's start when the record is delivered; ``value`` is the
message as a JSON object, or ``null`` for a tombstone. A value that is not a JSON object
(malformed on purpose, for fault injection) is kept verbatim as ``"value_text"`` instead, or as
``"value_base64"`` when it is not even UTF-8. No I/O here: only bytes in and out.
"""

from __future__ import annotations

import base64
import math

import orjson

from streams.simulator.world import Record


def record_to_jsonl(record: Record) -> bytes:
    """One JSONL line (ending in a newline) for ``record``."""
    head = orjson.dumps({"at": record.at, "topic": record.topic, "key": record.key})[:-1]
    if record.value is None:
        return head + b',"value":null}\n'
    if _is_json_object(record.value):
        return head + b',"value":' + record.value + b"}\n"
    try:
        text = record.value.decode("utf-8")
    except UnicodeDecodeError:
        encoded = base64.b64encode(record.value).decode("ascii")
        return head + b',"value_base64":' + orjson.dumps(encoded) + b"}\n"
    return head + b',"value_text":' + orjson.dumps(text) + b"}\n"


def parse_jsonl_line(line: bytes, default_at: float = 0.0) -> Record:
    """The record on one JSONL line; ``ValueError`` says what is wrong with a bad line. A line
    without ``at`` is at ``default_at`` (a file's reader passes the line before's)."""
    try:
        document = orjson.loads(line)
    except orjson.JSONDecodeError as error:
        raise ValueError(f"not a JSON line: {error}") from None
    if not isinstance(document, dict):
        raise ValueError("a record line must be a JSON object")
    at, topic, key = document.get("at", default_at), document.get("topic"), document.get("key")
    if not isinstance(at, int | float) or isinstance(at, bool) or not math.isfinite(at) or at < 0:
        raise ValueError("'at' must be a number of seconds >= 0")
    if not isinstance(topic, str) or not topic:
        raise ValueError("'topic' must be a non-empty string")
    if key is not None and not isinstance(key, str):
        raise ValueError("'key' must be a string or null")
    return Record(float(at), topic, key, _value_bytes(document))


def _value_bytes(document: dict[str, object]) -> bytes | None:
    """The record's value bytes from exactly one of value, value_text or value_base64."""
    present = [name for name in ("value", "value_text", "value_base64") if name in document]
    if len(present) != 1:
        raise ValueError("a record needs exactly one of 'value', 'value_text', 'value_base64'")
    content = document[present[0]]
    if present[0] == "value":
        return None if content is None else orjson.dumps(content)
    if not isinstance(content, str):
        raise ValueError(f"'{present[0]}' must be a string")
    if present[0] == "value_text":
        return content.encode("utf-8")
    try:
        return base64.b64decode(content, validate=True)
    except ValueError:
        raise ValueError("'value_base64' is not valid base64") from None


def _is_json_object(value: bytes) -> bool:
    """Whether ``value`` parses as one JSON object (so it can be embedded as is)."""
    if not value.startswith(b"{"):
        return False
    try:
        return isinstance(orjson.loads(value), dict)
    except orjson.JSONDecodeError:
        return False
