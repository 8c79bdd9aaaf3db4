"""Decoding the service's own output topics that the archive keeps: ``presence.visits`` and
``coverage.alerts``.

The service writes them, but the archive reads them as it reads any input: a value that does
not match its contract (a hand-made record, a future schema) is refused with a reason, never
archived half-understood. Types and enums are checked by ``msgspec`` structs that mirror the
JSON Schemas; times go through :func:`~streams.domain.validation.parse_timestamp` like every
other event time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final, Literal, TypeVar

import msgspec

from streams.domain.validation import (
    ID_PATTERN,
    Rejected,
    TimeLimits,
    parse_object,
    parse_timestamp,
)

S = TypeVar("S", bound=msgspec.Struct)

_Id = Annotated[str, msgspec.Meta(pattern=f"^{ID_PATTERN.pattern}\\Z")]
_Text = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
_Seconds = Annotated[float, msgspec.Meta(ge=0.0)]


class _Visit(msgspec.Struct, forbid_unknown_fields=True):
    visit_id: Annotated[str, msgspec.Meta(pattern="^[0-9a-f]{16}$")]
    area_id: _Id
    officer: Annotated[str, msgspec.Meta(pattern="^o_[0-9a-f]{16}$")]
    role: Literal[
        "response", "neighbourhood", "roads", "offender_management", "partnership", "other",
        "unknown",
    ]  # fmt: skip
    mode: Literal["foot", "vehicle"]
    start: str
    end: str | None
    seconds: _Seconds
    qualifying: bool
    drive_through: bool
    activity: Literal["proactive", "reactive"]
    revision: Annotated[int, msgspec.Meta(ge=0, le=2**31 - 1)]
    status: Literal["open", "closed", "retracted"]
    schema: Literal["presence.visits/1"] = "presence.visits/1"
    credited_seconds: _Seconds | None = None
    incident_category: _Text | None = None
    stop_search: bool = False
    inferred: bool = False
    unit: _Text | None = None


class _Evidence(msgspec.Struct, forbid_unknown_fields=True):
    last_qualifying_visit_end: str | None
    officers_present: Annotated[int, msgspec.Meta(ge=0)]
    open_incidents: dict[
        Literal["immediate", "priority", "scheduled", "resolution"],
        Annotated[int, msgspec.Meta(ge=0)],
    ]
    state_reason: Literal["feed_silent", "nobody_on_duty", "feed_degraded"] | None = None


class _Alert(msgspec.Struct, forbid_unknown_fields=True):
    alert_id: _Id
    area_id: _Id
    event: Literal["raised", "escalated", "cleared"]
    state: Literal["covered", "at_risk", "uncovered", "unknown"]
    severity: Literal["low", "medium", "high", "critical"]
    reason: _Text
    since: str
    ts: str
    evidence: _Evidence
    schema: Literal["coverage.alerts/1"] = "coverage.alerts/1"


@dataclass(frozen=True, slots=True)
class PublishedVisit:
    """One ``presence.visits`` revision as published (officer already a pseudonym)."""

    value: dict[str, object]
    start: float
    end: float | None


@dataclass(frozen=True, slots=True)
class PublishedAlert:
    """One ``coverage.alerts`` event as published."""

    value: dict[str, object]
    since: float
    ts: float


_VISIT_TOPIC: Final = "presence.visits"
_ALERT_TOPIC: Final = "coverage.alerts"


def decode_visit(raw: bytes | None, limits: TimeLimits) -> PublishedVisit:
    """One ``presence.visits`` value, or :class:`Rejected`."""
    value = parse_object(raw, _VISIT_TOPIC, limits)
    visit = _convert(value, _Visit)
    start = parse_timestamp(visit.start, "start")
    end = None if visit.end is None else parse_timestamp(visit.end, "end")
    return PublishedVisit(value, start, end)


def decode_alert(raw: bytes | None, limits: TimeLimits) -> PublishedAlert:
    """One ``coverage.alerts`` value, or :class:`Rejected`."""
    value = parse_object(raw, _ALERT_TOPIC, limits)
    alert = _convert(value, _Alert)
    if alert.evidence.last_qualifying_visit_end is not None:
        parse_timestamp(alert.evidence.last_qualifying_visit_end, "last_qualifying_visit_end")
    since = parse_timestamp(alert.since, "since")
    return PublishedAlert(value, since, parse_timestamp(alert.ts, "ts"))


def _convert(value: dict[str, object], kind: type[S]) -> S:
    try:
        return msgspec.convert(value, kind)
    except msgspec.ValidationError as error:
        raise Rejected("invalid_schema", str(error)) from None
