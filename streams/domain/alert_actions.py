"""What a supervisor does with an alert: acknowledge it, assign it to a callsign, add a note.

An action is a fact about an alert (``alert_id``), kept beside it and shown to every viewer. It
never changes the alert: the service goes on judging the area, and an alert acknowledged at one
severity that rises above it is *escalated since acknowledged* (:func:`escalated`), so an
acknowledgement never hides a worse state.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Final, Literal

ActionKind = Literal["acknowledged", "assigned", "noted"]
ACTION_KINDS: Final[tuple[ActionKind, ...]] = ("acknowledged", "assigned", "noted")
NOTE_MAX_CHARS: Final = 500
CALLSIGN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 /_.-]{0,23}")
SEVERITY_RANK: Final = {"critical": 0, "high": 1, "medium": 2, "low": 3}


class ActionRefusedError(ValueError):
    """An action that cannot be taken, and why (said to the caller as it is)."""


@dataclass(frozen=True, slots=True)
class AlertAction:
    """One action on an alert: what, by whom (the caller's token name), when (ISO UTC), at which
    severity of the alert, and the callsign or note it carries."""

    alert_id: str
    action: ActionKind
    by: str
    at: str
    severity: str
    callsign: str | None = None
    note: str | None = None

    def as_json(self) -> dict[str, object]:
        """The action as it is stored and served."""
        return {
            "alert_id": self.alert_id,
            "action": self.action,
            "by": self.by,
            "at": self.at,
            "severity": self.severity,
            "callsign": self.callsign,
            "note": self.note,
        }


def parse_action(
    body: Mapping[str, object], *, alert: Mapping[str, object], by: str, at: str
) -> AlertAction:
    """The action a request ``body`` asks for on the active ``alert``; raises
    :class:`ActionRefusedError` for an unknown action, a missing or malformed callsign or an
    empty or over-long note."""
    action = body.get("action")
    if action not in ACTION_KINDS:
        raise ActionRefusedError(f"action must be one of {', '.join(ACTION_KINDS)}")
    callsign = note = None
    if action == "assigned":
        raw = body.get("callsign")
        if not isinstance(raw, str) or not CALLSIGN.fullmatch(raw.strip()):
            raise ActionRefusedError("callsign must be 1-24 letters, digits, spaces or / _ . -")
        callsign = raw.strip()
    raw_note = body.get("note")
    if raw_note is not None:
        if not isinstance(raw_note, str):
            raise ActionRefusedError("note must be text")
        note = " ".join(raw_note.split())
        if len(note) > NOTE_MAX_CHARS:
            raise ActionRefusedError(f"note is over {NOTE_MAX_CHARS} characters")
        note = note or None
    if action == "noted" and note is None:
        raise ActionRefusedError("a note needs text")
    return AlertAction(
        alert_id=str(alert["alert_id"]),
        action=action,
        by=by,
        at=at,
        severity=str(alert.get("severity") or "low"),
        callsign=callsign,
        note=note,
    )


def escalated(actions: Sequence[Mapping[str, object]], severity: str) -> bool:
    """Whether an alert now at ``severity`` is worse than when it was last acknowledged (False
    when it never was)."""
    acknowledged = [a for a in actions if a.get("action") == "acknowledged"]
    if not acknowledged:
        return False
    then = SEVERITY_RANK.get(str(acknowledged[-1].get("severity")), 9)
    return SEVERITY_RANK.get(severity, 9) < then
