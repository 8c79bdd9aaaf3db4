"""What one coverage evaluation produces: what it judged (statuses, alerts, state changes), each
area's view (facts, status, snapshot), the snapshots due for publishing, the live events and the
area gauges."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from streams.domain.coverage import AlertEvent, CoveragePolicy, CoverageStatus, alert_value
from streams.domain.ledger import daily_ledger
from streams.domain.scheduling import (
    SNAPSHOT_REFRESH_S,
    snapshot_due,
    snapshot_fingerprint,
    spread_start,
    with_ts,
)
from streams.domain.snapshots import (
    WINDOW_NAMES,
    AreaFacts,
    dose_by_key,
    dose_today,
    drive_throughs_today,
    inferred_today,
    qualifying_visits,
    snapshot_value,
)
from streams.domain.timefmt import format_ts, local_day
from streams.metrics import AreaNumbers

YIELD_EVERY_AREAS = 100
"""The evaluator lets the agents run after this many areas (judged, or their snapshots
published): with thousands of areas an evaluation takes seconds."""


@dataclass(frozen=True, slots=True)
class AreaView:
    """One area's facts, coverage status and snapshot at one evaluation."""

    facts: AreaFacts
    status: CoverageStatus | None
    snapshot: dict[str, Any]


def area_view(
    facts: AreaFacts,
    status: CoverageStatus | None,
    day: str,
    policy: CoveragePolicy,
    now: float,
    monitored_since: float | None,
) -> AreaView:
    """One area's view: its facts, coverage status, today's ledger and snapshot value."""
    ledger = daily_ledger(
        facts.area.area_id,
        day,
        policy,
        qualifying_visits(facts, now),
        drive_throughs_today(facts),
        dose_today(facts),
        now,
        monitored_since,
        inferred_seconds=inferred_today(facts),
        patrol_seconds=facts.patrol_today,
        uncovered=status is not None and status.state == "uncovered",
    )
    return AreaView(facts, status, snapshot_value(facts, status, ledger, now))


@dataclass(slots=True)
class Judgement:
    """What one evaluation judged, over all its instants: each area's latest status, the
    monitoring starts it set, the alert events and the day's state changes, in order."""

    statuses: dict[str, CoverageStatus] = field(default_factory=dict)
    new_since: dict[str, float] = field(default_factory=dict)
    alerts: list[dict[str, object]] = field(default_factory=list)
    changes_today: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def add(
        self,
        previous: CoverageStatus | None,
        status: CoverageStatus,
        events: Sequence[AlertEvent],
        now: float,
        zone: ZoneInfo,
    ) -> None:
        """An area judged at ``now``: its status, its alert events, and its state change."""
        self.statuses[status.area_id] = status
        self.alerts.extend(alert_value(event) for event in events)
        if previous is None or previous.state != status.state:
            change: dict[str, object] = {
                "area_id": status.area_id,
                "state": status.state,
                "ts": format_ts(now),
            }
            self.changes_today.append((local_day(now, zone), change))


PublishedSnapshot = tuple[bytes, float, AreaView]
"""An area's last published snapshot: its content fingerprint, the wall time it counts as
published at (:func:`~streams.domain.scheduling.spread_start` for the first) and its view."""


@dataclass(slots=True)
class SnapshotsDue:
    """The snapshots one evaluation publishes: encoded, by area (also what the API serves), and
    those whose content changed (the live pages' events), with the bookkeeping to keep once they
    are out."""

    outgoing: dict[str, bytes] = field(default_factory=dict)
    changed: list[bytes] = field(default_factory=list)
    published: dict[str, PublishedSnapshot] = field(default_factory=dict)

    def messages(self) -> list[tuple[bytes, bytes]]:
        """The ``area.snapshots`` messages: (area id, snapshot)."""
        return [(area_id.encode(), value) for area_id, value in self.outgoing.items()]


class SnapshotLog:
    """The snapshot last published for each area: which are due again (changed content, or a
    refresh of unchanged content once :data:`~streams.domain.scheduling.SNAPSHOT_REFRESH_S` has
    passed)."""

    def __init__(self) -> None:
        self._last: dict[str, PublishedSnapshot] = {}

    def clear(self) -> None:
        """Forget every snapshot (this worker no longer leads)."""
        self._last.clear()

    async def due(self, views: Mapping[str, AreaView], wall_now: float) -> SnapshotsDue:
        """The snapshots of ``views`` due now (an area's view not built again since it was
        published is not even encoded)."""
        due = SnapshotsDue()
        for count, (area_id, view) in enumerate(views.items(), start=1):
            if count % YIELD_EVERY_AREAS == 0:
                await asyncio.sleep(0)  # let the agents run between slices of a large pack
            last = self._last.get(area_id)
            if last is not None and last[2] is view and wall_now - last[1] < SNAPSHOT_REFRESH_S:
                continue  # the same view as published: not evaluated again since
            ts, fingerprint = snapshot_fingerprint(view.snapshot)
            decision = snapshot_due(None if last is None else last[:2], fingerprint, wall_now)
            if decision is None:
                due.published[area_id] = (fingerprint, last[1] if last else wall_now, view)
                continue
            encoded = with_ts(ts, fingerprint)
            if decision == "changed":
                due.changed.append(encoded)
            due.outgoing[area_id] = encoded
            published = (
                wall_now
                if last is not None
                else spread_start(area_id, wall_now, SNAPSHOT_REFRESH_S)
            )
            due.published[area_id] = (fingerprint, published, view)
        return due

    def published(self, due: SnapshotsDue) -> None:
        """``due`` went out."""
        self._last.update(due.published)


def sse_message(event: str, data: bytes) -> bytes:
    """One server-sent event carrying ``data`` (encoded JSON)."""
    return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"


def live_events(alerts: Sequence[Mapping[str, object]], changed: Sequence[bytes]) -> list[bytes]:
    """The live pages' events of one evaluation: its alert events, then the changed snapshots
    (live pages reload every area on their own, so only changes go to them)."""
    return [sse_message("alert", orjson.dumps(alert)) for alert in alerts] + [
        sse_message("area", snapshot) for snapshot in changed
    ]


def area_numbers(
    view: AreaView, now: float, metric_units: frozenset[str] = frozenset()
) -> AreaNumbers:
    """The gauges of one area; units not in ``metric_units`` are labelled ``other``."""
    facts, snapshot = view.facts, view.snapshot
    present: dict[tuple[str, str], int] = {}
    for role, mode in facts.present.values():
        present[(role, mode)] = present.get((role, mode), 0) + 1
    demand = snapshot["demand"]
    ledger = snapshot["coverage"].get("ledger", {})
    last = facts.last_qualifying_end
    limit_minutes = snapshot["coverage"].get("limit_minutes")
    return AreaNumbers(
        area_id=facts.area.area_id,
        kind=facts.area.kind,
        name=facts.area.name,
        limit_s=None if limit_minutes is None else limit_minutes * 60.0,
        present=present,
        dose_today=dose_today(facts),
        dose_total=dose_by_key(facts.dose_total),
        dose_windows={
            name: snapshot["dose"][name]["minutes"] * 60.0 for name in WINDOW_NAMES.values()
        },
        state=snapshot["coverage"]["state"],
        severity=snapshot["coverage"]["severity"],
        last_qualifying_age_s=None if last is None else max(now - last, 0.0),
        qualifying_today=snapshot["visits"]["qualifying_today"],
        drive_throughs_today=snapshot["visits"]["drive_throughs_today"],
        fidelity=ledger.get("fidelity", {}).get("share"),
        open_incidents=demand["open_incidents"],
        incidents_24h={k: v for k, v in demand["incidents_24h"].items() if k != "total"},
        crimes_24h=demand["crimes_24h"]["total"],
        stop_searches_24h=demand["stop_searches_24h"]["total"],
        harm_24h=demand["harm_24h"],
        reason=snapshot["coverage"].get("reason"),
        patrol_windows={
            name: snapshot["dose"][name]["patrol_minutes"] * 60.0 for name in WINDOW_NAMES.values()
        },
        patrol_today=facts.patrol_today,
        present_by_unit=unit_labels(snapshot["presence"]["by_unit"], metric_units, zeros=True),
        dose_windows_by_unit={
            (name, unit): minutes * 60.0
            for name in WINDOW_NAMES.values()
            for unit, minutes in unit_labels(
                snapshot["dose"][name]["by_unit"], metric_units, zeros=False
            ).items()
        },
    )


def unit_labels(
    by_unit: Mapping[str, float], metric_units: frozenset[str], *, zeros: bool
) -> dict[str, Any]:
    """Amounts by unit summed by metric label: the unit's name when it is one of
    ``metric_units``, else ``other``; with ``zeros``, every label appears, else only those with
    an amount."""
    labels: dict[str, Any] = dict.fromkeys([*sorted(metric_units), "other"], 0) if zeros else {}
    for unit, amount in by_unit.items():
        label = unit if unit in metric_units else "other"
        labels[label] = labels.get(label, 0) + amount
    return labels if zeros else {label: amount for label, amount in labels.items() if amount}


def active_alerts(views: Mapping[str, AreaView]) -> dict[str, int]:
    """Active alerts by their (highest) severity."""
    counts: dict[str, int] = {}
    for view in views.values():
        alert = None if view.status is None else view.status.active_alert
        if alert is not None:
            counts[alert.severity] = counts.get(alert.severity, 0) + 1
    return counts
