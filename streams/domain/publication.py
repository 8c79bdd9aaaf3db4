"""What presence facts look like when they leave the service: pseudonyms and visit values."""

from __future__ import annotations

import hashlib
import hmac

from streams.domain.timefmt import format_ts
from streams.domain.tracks import Visit


def pseudonym(key: bytes, identity: str) -> str:
    """The keyed-HMAC pseudonym of an officer (collar number, else radio): ``o_`` + 16 hex.

    Stable for one key, unlinkable without it; rotating the key rotates every pseudonym.
    """
    digest = hmac.new(key, identity.encode("utf-8"), hashlib.sha256).hexdigest()
    return "o_" + digest[:16]


def visit_value(visit: Visit, officer: str) -> dict[str, object]:
    """The ``presence.visits/1`` value of a visit, with the officer's pseudonym."""
    return {
        "schema": "presence.visits/1",
        "visit_id": visit.visit_id,
        "area_id": visit.area_id,
        "officer": officer,
        "role": visit.role,
        "mode": visit.mode,
        "start": format_ts(visit.start),
        "end": None if visit.end is None else format_ts(visit.end),
        "seconds": round(visit.seconds, 3),
        "credited_seconds": round(visit.credited_seconds, 3),
        "qualifying": visit.qualifying,
        "drive_through": visit.drive_through,
        "activity": visit.activity,
        "revision": visit.revision,
        "status": visit.status,
    }
