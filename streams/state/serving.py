"""What the API and the live page read and write beside the pipeline's state: nearest-officer
queries and latest fixes, the audit log of officer-level reads, supervisors' actions on alerts,
and live events over pub/sub."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import Any, Final

import orjson

from streams import topics
from streams.state import keys as layout
from streams.state.store import Store

ALERT_ACTIONS_KEPT_S: Final = 7 * 24 * 3600


class ServingState(Store):
    """Reads for the API, its audit log and the live events channel."""

    async def last_fixes(self, partitions: int) -> dict[str, dict[str, Any]]:
        """issi -> what is shown of its latest accepted fix (officer-level data)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                pipe.hgetall(layout.LAST_FIX.of(self.slot(topics.PINGS, partition)))
            replies = await pipe.execute()
        self.metrics.round_trip("last_fixes")
        return {k.decode(): orjson.loads(v) for reply in replies for k, v in reply.items()}

    async def trail(
        self, partitions: int, minutes: Sequence[int]
    ) -> list[tuple[int, dict[str, str]]]:
        """The trail steps ``minutes`` of every ``airwave.pings`` partition: (minute, radio ->
        stored point) each (:mod:`streams.domain.replay`; officer-level data). One round
        trip."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for minute in minutes:
                for partition in range(partitions):
                    pipe.hgetall(layout.TRAIL.of(self.slot(topics.PINGS, partition), minute))
            replies = await pipe.execute()
        self.metrics.round_trip("trail")
        steps = [minute for minute in minutes for _ in range(partitions)]
        return [
            (minute, {k.decode(): v.decode() for k, v in reply.items()})
            for minute, reply in zip(steps, replies, strict=True)
        ]

    async def nearest(
        self, partitions: int, lat: float, lon: float, count: int, within_km: float
    ) -> list[tuple[str, float]]:
        """The ``count`` radios whose latest fix is nearest and within ``within_km`` (issi,
        metres), over every slice."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                pipe.geosearch(
                    layout.GEO.of(self.slot(topics.PINGS, partition)),
                    longitude=lon,
                    latitude=lat,
                    radius=within_km,
                    unit="km",
                    sort="ASC",
                    count=count,
                    withdist=True,
                )
            replies = await pipe.execute()
        self.metrics.round_trip("nearest")
        found = [(issi.decode(), float(km) * 1000.0) for reply in replies for issi, km in reply]
        return sorted(found, key=lambda pair: pair[1])

    async def open_incidents(self, partitions: int) -> list[dict[str, Any]]:
        """Every open incident with a known place, as the live view shows it."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for partition in range(partitions):
                pipe.hvals(layout.OPEN_INCIDENTS.of(self.slot(topics.INCIDENTS, partition)))
            replies = await pipe.execute()
        self.metrics.round_trip("open_incidents")
        return [orjson.loads(value) for reply in replies for value in reply]

    async def audit(self, entry: Mapping[str, object]) -> None:
        """Append one officer-level read to the audit log (who, what, when)."""
        await self.redis.rpush(self.keys.key(layout.AUDIT), orjson.dumps(entry))
        self.metrics.round_trip("audit")

    async def audit_log(self, count: int) -> list[dict[str, Any]]:
        """The newest audit entries, oldest first."""
        values = await self.redis.lrange(self.keys.key(layout.AUDIT), -count, -1)
        return [orjson.loads(value) for value in values]

    async def record_alert_action(self, alert_id: str, action: Mapping[str, object]) -> None:
        """Append a supervisor's action to its alert's actions."""
        key = self.keys.key(layout.ALERT_ACTIONS, alert_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, orjson.dumps(action))
            pipe.expire(key, ALERT_ACTIONS_KEPT_S)
            await pipe.execute()
        self.metrics.round_trip("alert_action")

    async def alert_actions(self, alert_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
        """alert_id -> its actions, oldest first (alerts without any left out)."""
        if not alert_ids:
            return {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for alert_id in alert_ids:
                pipe.lrange(self.keys.key(layout.ALERT_ACTIONS, alert_id), 0, -1)
            replies = await pipe.execute()
        self.metrics.round_trip("alert_actions")
        return {
            alert_id: [orjson.loads(value) for value in reply]
            for alert_id, reply in zip(alert_ids, replies, strict=True)
            if reply
        }

    @property
    def events_channel(self) -> str:
        """Pub/sub channel of live events (area changes, alerts) for the SSE streams."""
        return self.keys.key(layout.EVENTS)

    async def publish_events(self, events: Sequence[bytes]) -> None:
        """Publish live events (each a ready SSE message) to every worker's web server, all in
        one message: SSE messages placed back to back are still a valid event stream, and one
        PUBLISH per evaluation costs far less than one per event with thousands of areas."""
        if not events:
            return
        await self.redis.publish(self.events_channel, b"".join(events))
        self.metrics.round_trip("publish_events")

    async def live_events(self) -> AsyncGenerator[bytes, None]:
        """The messages published by :meth:`publish_events` from now on, as they come (until
        the caller stops iterating; the subscription is closed then)."""
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(self.events_channel)
        try:
            async for message in pubsub.listen():
                if message.get("type") == "message":
                    yield message["data"]
        finally:
            await pubsub.aclose()
