"""Coverage in Redis, written by one evaluator (the worker holding the leader lock): statuses,
monitoring starts, recent alerts, each day's state changes, the last instant judged, and each
area's last published snapshot (the view the API serves)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import orjson

from streams.metrics import PipelineMetrics
from streams.state import keys as layout
from streams.state.changes import Changes
from streams.state.presence import VISIT_DAYS_KEPT
from streams.state.scripts import LEAD_LUA
from streams.state.store import Store

ALERTS_KEPT = 1000
STATE_CHANGES_KEPT = 20000


class CoverageState(Store):
    """The coverage leader lock and what the leader stores."""

    def __init__(self, redis_url: str, key_prefix: str, metrics: PipelineMetrics) -> None:
        super().__init__(redis_url, key_prefix, metrics)
        self._lead = self.redis.register_script(LEAD_LUA)

    @property
    def leader_key(self) -> str:
        """Which worker evaluates coverage, emits snapshots and exports area metrics."""
        return self.keys.key(layout.LEADER)

    async def lead(self, worker_id: str, ttl_ms: int) -> bool:
        """Take or keep the leader lock for ``ttl_ms``; whether this worker holds it."""
        held = await self._lead(keys=[self.leader_key], args=[worker_id, ttl_ms])
        self.metrics.round_trip("lead")
        return bool(held)

    async def judged_through(self) -> float | None:
        """The last instant coverage was judged at on the event clock (None: none yet)."""
        value = await self.redis.get(self.keys.key(layout.COVERAGE_JUDGED))
        self.metrics.round_trip("coverage_judged")
        return None if value is None else float(value)

    async def coverage_store(self) -> CoverageStore:
        """Stored coverage statuses, monitoring start per area, officers on duty, and the last
        instant judged on the event clock."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.keys.key(layout.COVERAGE_STATUS))
            pipe.hgetall(self.keys.key(layout.COVERAGE_SINCE))
            pipe.scard(self.keys.key(layout.ON_DUTY))
            pipe.get(self.keys.key(layout.COVERAGE_JUDGED))
            statuses, since, on_duty, judged = await pipe.execute()
        self.metrics.round_trip("coverage_store")
        return CoverageStore(
            {k.decode(): v for k, v in statuses.items()},
            {k.decode(): float(v) for k, v in since.items()},
            int(on_duty),
            None if judged is None else float(judged),
        )

    def record_coverage(
        self,
        changes: Changes,
        worker_id: str,
        statuses: Mapping[str, Mapping[str, object]],
        since: Mapping[str, float],
        alerts: Iterable[Mapping[str, object]],
        state_changes: Iterable[tuple[str, Mapping[str, object]]],
        judged: float | None = None,
    ) -> None:
        """Coverage statuses, monitoring starts, recent alerts, today's state changes and the
        last instant judged (event clock), only while this worker still holds the leader
        lock."""
        changes.require(self.leader_key, worker_id)
        if judged is not None:
            changes.max(self.keys.key(layout.COVERAGE_JUDGED), judged)
        for area_id, status in statuses.items():
            changes.hset(
                self.keys.key(layout.COVERAGE_STATUS), area_id, orjson.dumps(status).decode()
            )
        for area_id, ts in since.items():
            changes.hsetnx(self.keys.key(layout.COVERAGE_SINCE), area_id, repr(ts))
        for alert in alerts:
            changes.lpush_trim(
                self.keys.key(layout.COVERAGE_ALERTS), orjson.dumps(alert).decode(), ALERTS_KEPT
            )
        for day, change in state_changes:
            key = self.keys.key(layout.COVERAGE_CHANGES, day)
            changes.lpush_trim(key, orjson.dumps(change).decode(), STATE_CHANGES_KEPT)
            changes.expire(key, VISIT_DAYS_KEPT * 86400)

    async def recent_alerts(self, count: int) -> list[dict[str, Any]]:
        """The newest alert events, newest first."""
        values = await self.redis.lrange(self.keys.key(layout.COVERAGE_ALERTS), 0, count - 1)
        self.metrics.round_trip("alerts")
        return [orjson.loads(value) for value in values]

    async def coverage_changes(self, day: str) -> list[dict[str, Any]]:
        """Coverage state changes of a local day, oldest first."""
        values = await self.redis.lrange(self.keys.key(layout.COVERAGE_CHANGES, day), 0, -1)
        self.metrics.round_trip("coverage_changes")
        return [orjson.loads(value) for value in reversed(values)]

    @property
    def area_views_key(self) -> str:
        """Hash area_id -> the area's last published ``area.snapshots`` value (JSON)."""
        return self.keys.key(layout.AREA_VIEWS)

    def record_area_views(self, changes: Changes, snapshots: Mapping[str, bytes]) -> None:
        """Store each area's snapshot as published (with :meth:`record_coverage`: only while
        this worker still holds the leader lock)."""
        changes.hset_blobs(self.area_views_key, snapshots)

    async def area_views(self, area_ids: Sequence[str]) -> list[bytes | None]:
        """The stored snapshot of each area, in order (None: none stored yet)."""
        if not area_ids:
            return []
        values = await self.redis.hmget(self.area_views_key, list(area_ids))
        self.metrics.round_trip("area_views")
        return cast("list[bytes | None]", values)


@dataclass(frozen=True, slots=True)
class CoverageStore:
    """What the coverage evaluator stored: statuses, monitoring starts, officers on duty (from
    the roster) and the last instant judged on the event clock."""

    statuses: dict[str, bytes]
    since: dict[str, float]
    on_duty: int
    judged: float | None
