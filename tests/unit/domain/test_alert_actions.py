"""A supervisor's actions on an alert: what is accepted, and an acknowledgement that never hides a
worse state."""

from __future__ import annotations

import pytest

from streams.domain.alert_actions import ActionRefusedError, escalated, parse_action

ALERT = {"alert_id": "WM-IA-017:1795284000", "area_id": "WM-IA-017", "severity": "medium"}
AT = "2026-11-21T18:00:00Z"


def test_an_acknowledgement_keeps_the_severity_it_was_given_at() -> None:
    action = parse_action({"action": "acknowledged"}, alert=ALERT, by="duty-inspector", at=AT)
    assert action.as_json() == {
        "alert_id": "WM-IA-017:1795284000",
        "action": "acknowledged",
        "by": "duty-inspector",
        "at": AT,
        "severity": "medium",
        "callsign": None,
        "note": None,
    }


def test_an_assignment_needs_a_callsign() -> None:
    action = parse_action(
        {"action": "assigned", "callsign": " BX21 "}, alert=ALERT, by="sup", at=AT
    )
    assert action.callsign == "BX21"
    for bad in (None, "", "<script>", "X" * 25, 42):
        with pytest.raises(ActionRefusedError, match="callsign"):
            parse_action({"action": "assigned", "callsign": bad}, alert=ALERT, by="sup", at=AT)


def test_a_note_is_one_line_of_bounded_text() -> None:
    action = parse_action(
        {"action": "noted", "note": "  unit  en route\nfrom the depot "},
        alert=ALERT,
        by="sup",
        at=AT,
    )
    assert action.note == "unit en route from the depot"
    with pytest.raises(ActionRefusedError, match="needs text"):
        parse_action({"action": "noted", "note": "   "}, alert=ALERT, by="sup", at=AT)
    with pytest.raises(ActionRefusedError, match="over 500"):
        parse_action({"action": "noted", "note": "x" * 501}, alert=ALERT, by="sup", at=AT)
    with pytest.raises(ActionRefusedError, match="text"):
        parse_action({"action": "noted", "note": ["x"]}, alert=ALERT, by="sup", at=AT)


def test_an_unknown_action_is_refused() -> None:
    with pytest.raises(ActionRefusedError, match="one of"):
        parse_action({"action": "deleted"}, alert=ALERT, by="sup", at=AT)


def test_an_alert_worse_than_when_acknowledged_has_escalated() -> None:
    acknowledged_medium = [{"action": "acknowledged", "severity": "medium"}]
    assert escalated(acknowledged_medium, "high")
    assert escalated(acknowledged_medium, "critical")
    assert not escalated(acknowledged_medium, "medium")
    assert not escalated(acknowledged_medium, "low")


def test_only_the_last_acknowledgement_counts_and_notes_do_not() -> None:
    actions = [
        {"action": "acknowledged", "severity": "medium"},
        {"action": "acknowledged", "severity": "high"},
        {"action": "noted", "severity": "critical"},
    ]
    assert not escalated(actions, "high")
    assert escalated(actions, "critical")
    assert not escalated([{"action": "noted", "severity": "low"}], "critical")
