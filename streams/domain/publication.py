"""What presence facts look like when they leave the service: pseudonyms, visit ids and values.

Every identifier derived from a radio or an officer leaves the service keyed with the pseudonym
key (``COVERWATCH_PSEUDONYM_KEY``), never as a plain digest: an unkeyed digest of an ISSI (a
24-bit space) is undone by trying every ISSI, which takes seconds.
"""

from __future__ import annotations

import hashlib
import hmac

from streams.domain.timefmt import format_ts
from streams.domain.tracks import Visit


def pseudonym(key: bytes, identity: str | bytes) -> str:
    """The keyed-HMAC pseudonym of an officer (their radio's ISSI): ``o_`` + 16 hex.

    Stable for one key, unlinkable without it; rotating the key rotates every pseudonym.
    ``identity`` may be the raw bytes of a message key (the same pseudonym as its UTF-8 text).
    """
    message = identity if isinstance(identity, bytes) else identity.encode("utf-8")
    digest = hmac.new(key, message, hashlib.sha256).hexdigest()
    return "o_" + digest[:16]


def published_visit_id(key: bytes, visit: Visit) -> str:
    """The id a visit is published under: a keyed HMAC of its internal id, 16 lowercase hex.

    The internal id (:func:`~streams.domain.tracks.visit_id_for`, what the track and Redis use)
    is a plain digest of the radio, the area and the start, which anyone holding a published
    area and start could recompute for every ISSI. Keyed, the id is the same for every revision
    of the visit, in replays and after restarts, for one key; a new key gives every visit a new
    id, as it gives every officer a new pseudonym. The ``visit|`` prefix keeps its HMAC input
    apart from a pseudonym's (an ISSI has no ``|``).
    """
    message = b"visit|" + visit.visit_id.encode("utf-8")
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:16]


def visit_value(key: bytes, visit: Visit) -> dict[str, object]:
    """The ``presence.visits/1`` value of a visit: its keyed id and the officer's pseudonym."""
    return {
        "schema": "presence.visits/1",
        "visit_id": published_visit_id(key, visit),
        "area_id": visit.area_id,
        "officer": pseudonym(key, visit.issi),
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
        "incident_category": visit.incident_category,
        "stop_search": visit.stop_search,
        "inferred": visit.inferred,
        "unit": visit.unit,
    }
