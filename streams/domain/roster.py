"""``resources.roster``: who carries each radio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from streams.domain.validation import (
    Rejected,
    TimeLimits,
    check_fields,
    check_key,
    parse_object,
    parse_timestamp,
    require_id,
)

Role = Literal[
    "response", "neighbourhood", "roads", "offender_management", "partnership", "other", "unknown"
]
Device = Literal["handheld", "vehicle"]
ROLES: Final[tuple[Role, ...]] = (
    "response",
    "neighbourhood",
    "roads",
    "offender_management",
    "partnership",
    "other",
    "unknown",
)
DEVICES: Final[tuple[Device, ...]] = ("handheld", "vehicle")


@dataclass(frozen=True, slots=True)
class RosterEntry:
    """The officer carrying radio ``issi`` and whether they are on duty, from ``ts`` on (None:
    from the beginning)."""

    issi: str
    officer_id: str
    callsign: str
    unit: str
    role: Role
    device: Device
    on_duty: bool
    ts: float | None = None

    def stored(self) -> dict[str, object]:
        """The entry as the current roster keeps it (without its time)."""
        return {
            "issi": self.issi,
            "officer_id": self.officer_id,
            "callsign": self.callsign,
            "unit": self.unit,
            "role": self.role,
            "device": self.device,
            "on_duty": self.on_duty,
        }


@dataclass(frozen=True, slots=True)
class RosterRemoved:
    """A tombstone: radio ``issi`` no longer belongs to anyone."""

    issi: str


UNKNOWN_OFFICER_ROLE: Final[Role] = "unknown"

_FIELDS: Final = frozenset(
    {"schema", "issi", "officer_id", "callsign", "unit", "role", "device", "on_duty", "ts"}
)


def decode_roster(
    key: bytes | None, raw: bytes | None, limits: TimeLimits
) -> RosterEntry | RosterRemoved:
    """One roster message: an entry, or a removal for a null value keyed by the issi."""
    if raw is None:
        if key is None:
            raise Rejected("invalid_schema", "a roster tombstone needs the issi as its key")
        return RosterRemoved(key.decode("utf-8", "replace"))
    value = parse_object(raw, "resources.roster", limits)
    check_fields(value, _FIELDS)
    issi = require_id(value, "issi")
    check_key(key, issi, "issi")
    role = value.get("role")
    device = value.get("device")
    on_duty = value.get("on_duty")
    if role not in ROLES or role == UNKNOWN_OFFICER_ROLE:
        raise Rejected("invalid_schema", f"role {role!r} is not one of the roster roles")
    if device not in DEVICES:
        raise Rejected("invalid_schema", f"device {device!r} must be handheld or vehicle")
    if not isinstance(on_duty, bool):
        raise Rejected("invalid_schema", "on_duty must be true or false")
    ts = parse_timestamp(value["ts"], "ts") if "ts" in value else None
    return RosterEntry(
        issi=issi,
        officer_id=require_id(value, "officer_id"),
        callsign=require_id(value, "callsign"),
        unit=_text(value.get("unit"), "unit"),
        role=role,
        device=device,
        on_duty=on_duty,
        ts=ts,
    )


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 128:
        raise Rejected("invalid_schema", f"{field} must be a non-empty string")
    return value
