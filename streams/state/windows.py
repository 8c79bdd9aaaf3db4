"""The one-off upgrade of the rolling-window layout, run once per worker start.

Window sums are kept as a total since start less what has left each window (``total`` and
``out``, see ``lua/windows.lua``). The layout before it kept running sums in ``<family>:win``. The
Lua of every window operation used to check for that key and convert it, on every call; the
conversion (``lua/upgrade_windows.lua``, unchanged) now runs once for every window family of the
service when a worker finds the store trusted at start (:class:`~streams.engines.epoch.EpochWatch`),
before any agent writes: no worker consumes before then, and a store cleared by ``coverwatch
rebuild`` holds no such key. It is kept, not dropped, because a store last written by a version
before the change (and never rebuilt since) still holds ``:win`` hashes: they do not expire.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from streams import topics
from streams.domain.demand import DEMAND_WINDOWS
from streams.state import keys as layout
from streams.state.changes import windows_csv
from streams.state.presence import DOSE_WINDOWS
from streams.state.scripts import UPGRADE_WINDOWS_LUA
from streams.state.store import Store

DEMAND_SOURCES = (topics.INCIDENTS, topics.CRIMES, topics.STOPSEARCH)


class WindowsState(Store):
    """The upgrade of the window families stored by the earlier layout."""

    def window_families(self) -> dict[str, tuple[int, ...]]:
        """Every window family of the service (the name its ops take) -> its windows."""
        families = {
            layout.DOSE.of(self.slot(topics.PINGS, p)): DOSE_WINDOWS
            for p in range(topics.BY_NAME[topics.PINGS].partitions)
        }
        for source in DEMAND_SOURCES:
            for partition in range(topics.BY_NAME[source].partitions):
                families[layout.DEMAND.of(self.slot(source, partition))] = DEMAND_WINDOWS
        return families

    async def upgrade_window_layout(
        self, families: Mapping[str, Sequence[int]] | None = None
    ) -> int:
        """Convert the window families (default: every one of the service) still stored by the
        earlier layout, keeping every window's sum; the number converted. One round trip."""
        wanted = self.window_families() if families is None else families
        upgrade = self.redis.register_script(UPGRADE_WINDOWS_LUA)
        await self.load_scripts()
        async with self.redis.pipeline(transaction=False) as pipe:
            for family, windows in wanted.items():
                await upgrade(
                    keys=[f"{family}:win", f"{family}:total", f"{family}:out"],
                    args=[windows_csv(tuple(windows))],
                    client=pipe,
                )
            converted = await pipe.execute()
        self.metrics.round_trip("upgrade")
        return sum(int(count) for count in converted)
