"""The Redis layer on a real redis-server: rolling windows, watermarks, content idempotency, and
what the coverage evaluator reads."""

from __future__ import annotations

import math
import tracemalloc
from dataclasses import replace

import orjson
import pytest
import redis.asyncio as redis_asyncio

from streams.app import create_app
from streams.domain.dayvisits import DayVisits
from streams.domain.joins import BEGINNING, ROSTER_VERSIONS_KEPT, RosterVersion
from streams.domain.judging import VisitHistory
from streams.domain.tracks import DoseAccrued, Visit, VisitRecorded
from streams.domain.windows import in_window
from streams.engines.coverage import read_areas
from streams.engines.coverage.patrol import PatrolMinutes
from streams.engines.runtime import Runtime
from streams.metrics import Metrics
from streams.settings import Settings
from streams.state import Changes, PartitionCommit, State, window_sums
from streams.state import keys as layout

pytestmark = pytest.mark.integration

MINUTE = 29_395_000
WINDOWS = (900, 3600)


async def window_totals(state: State, family: str) -> dict[str, float]:
    totals = await state.redis.hgetall(family + ":total")
    outs = await state.redis.hgetall(family + ":out")
    return {
        f"{window}|{name}": amount for window, name, amount in window_sums(totals, outs, WINDOWS)
    }


@pytest.mark.parametrize("expire_first", [False, True])
@pytest.mark.parametrize(
    "now_offset_s",
    [0.0, 59.999, 60.0, 899.999, 900.0, 900.001, 3599.999, 3600.0, 3660.0, 86400.0],
)
async def test_redis_windows_follow_the_domain_window_rule_at_the_boundaries(
    stack, unique: str, now_offset_s: float, expire_first: bool
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    family = state.key("slot", "family")
    minutes = [MINUTE - 61, MINUTE - 60, MINUTE - 16, MINUTE - 15, MINUTE - 1, MINUTE, MINUTE]
    now = MINUTE * 60.0 + now_offset_s
    expiry = Changes()
    expiry.win_expire(family, now, WINDOWS)
    if expire_first:  # minutes that arrive after their windows moved on
        await state.commit([PartitionCommit("test", 0, None, expiry)])
    adds = Changes()
    adds.win_add(
        family, ((minute, "x", 10.0**offset) for offset, minute in enumerate(minutes)), WINDOWS
    )
    await state.commit([PartitionCommit("test", 0, 1, adds)])
    await state.commit([PartitionCommit("test", 0, None, expiry)])

    totals = await window_totals(state, family)
    for window in WINDOWS:
        expected = sum(
            10.0**offset
            for offset, minute in enumerate(minutes)
            if in_window(minute, now, window) or minute * 60 > now
        )
        assert totals.get(f"{window}|x", 0.0) == pytest.approx(expected), window
    await state.close()


@pytest.mark.parametrize("with_total", [True, False])
async def test_window_sums_stored_by_an_earlier_version_are_kept_and_go_on_expiring(
    stack, unique: str, with_total: bool
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    family = state.key("slot", "family")
    old = MINUTE - 10  # in both windows; leaves the 15-minute one 6 minutes later
    await state.redis.hset(family + ":win", mapping={"900|x": "4", "3600|x": "10"})
    await state.redis.hset(f"{family}:m:{old}", "x", "4")
    await state.redis.zadd(family + ":minutes", {str(old): old})
    await state.redis.hset(family + ":through", mapping={"900": MINUTE - 16, "3600": MINUTE - 61})
    if with_total:  # dose kept a total since start beside the windows; demand did not
        await state.redis.hset(family + ":total", mapping={"x": "25", "late": "3"})
    now = MINUTE * 60.0

    assert await state.upgrade_window_layout({family: WINDOWS}) == 1  # once, at start
    assert await state.upgrade_window_layout({family: WINDOWS}) == 0
    expiry = Changes()
    expiry.win_expire(family, now, WINDOWS)
    await state.commit([PartitionCommit("test", 0, None, expiry)])
    kept = await window_totals(state, family)
    later = Changes()
    later.win_expire(family, now + 6 * 60, WINDOWS)
    await state.commit([PartitionCommit("test", 0, None, later)])

    late = {"900|late": 0.0, "3600|late": 0.0} if with_total else {}
    assert kept == {"900|x": 4.0, "3600|x": 10.0, **late}
    assert await window_totals(state, family) == {"900|x": 0.0, "3600|x": 10.0, **late}
    assert not await state.redis.exists(family + ":win")
    await state.close()


async def test_a_replayed_offset_changes_nothing_and_once_skips_repeated_content(
    stack, unique: str
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    key = state.key("slot", "count")

    def counted(seen_key: str) -> Changes:
        counted = Changes()
        counted.hincrby(key, "n", 1)
        changes = Changes()
        changes.once(state.key("slot", "seen", seen_key), 3600, counted)
        return changes

    applied = await state.commit([PartitionCommit("src", 0, 5, counted("a"))])
    replayed = await state.commit([PartitionCommit("src", 0, 5, counted("b"))])
    duplicate = await state.commit([PartitionCommit("src", 0, 6, counted("a"))])
    fresh = await state.commit([PartitionCommit("src", 0, 7, counted("c"))])

    assert (applied, replayed, duplicate, fresh) == ([True], [False], [True], [True])
    client = redis_asyncio.Redis.from_url(stack.redis_url)
    assert await client.hget(key, "n") == b"2"
    await client.aclose()
    await state.close()


async def test_a_commit_prepared_under_an_earlier_owner_is_refused_after_a_takeover(
    stack, unique: str
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    key = state.key("slot", "count")

    def counted() -> Changes:
        changes = Changes()
        changes.hincrby(key, "n", 1)
        return changes

    first = await state.claim("src", [0, 1])
    applied = await state.commit([PartitionCommit("src", 0, 5, counted(), first[0][0])])
    second = await state.claim("src", [0])  # another worker takes partition 0 over
    late = await state.commit(  # the first worker's next batch, of partition 0 and 1
        [
            PartitionCommit("src", 0, 9, counted(), first[0][0]),
            PartitionCommit("src", 1, 3, counted(), first[1][0]),
        ]
    )
    settled = await state.commit([PartitionCommit("src", 0, None, counted(), first[0][0])])
    owned = await state.commit([PartitionCommit("src", 0, 6, counted(), second[0][0])])

    assert first == {0: (1, -1), 1: (1, -1)}
    assert second == {0: (2, 5)}
    assert (applied, late, settled, owned) == ([True], [False, True], [False], [True])
    assert await state.watermarks("src", [0, 1]) == {0: 6, 1: 3}
    client = redis_asyncio.Redis.from_url(stack.redis_url)
    assert await client.hget(key, "n") == b"3"
    await client.aclose()
    await state.close()


def visit(
    visit_id: str, area_id: str, status: str, seconds: float, **fields: object
) -> dict[str, object]:
    """A published visit value (the fields the day summary reads, and an id)."""
    value: dict[str, object] = {
        "visit_id": visit_id,
        "area_id": area_id,
        "role": "response",
        "mode": "vehicle",
        "activity": "proactive",
        "start": "2026-11-20T11:00:00.000Z",
        "end": None if status == "open" else "2026-11-20T11:20:00.000Z",
        "seconds": seconds,
        "qualifying": seconds >= 600,
        "drive_through": status != "open" and seconds < 120,
        "status": status,
    }
    value.update(fields)
    return value


async def write_visits(state: State, partition: int, day: str, *values: dict[str, object]) -> None:
    """Commit visit values as the presence engine does (one revision each, in order)."""
    for value in values:
        changes = Changes()
        state.record_presence(
            changes, partition, [], {str(value["visit_id"]): (day, value)}, {}, {}, 0.0
        )
        await state.commit([PartitionCommit("airwave.pings", partition, None, changes)])


async def test_the_day_summary_follows_each_visits_latest_revision(stack, unique: str) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    day = "2026-11-20"
    await write_visits(
        state,
        0,
        day,
        visit("v1", "ia-01", "open", 30.0),
        visit("v2", "ia-01", "closed", 45.0),  # a drive-through
        visit("v1", "ia-01", "open", 700.0),  # qualifying now
        visit("v3", "ia-02", "closed", 900.0),
        visit("v1", "ia-01", "closed", 1200.0),
        visit("v3", "ia-02", "retracted", 900.0),
    )
    await write_visits(state, 1, day, visit("v4", "ia-01", "closed", 610.5, role="roads"))

    view = await state.presence_view(2, [day])

    assert view.visits["ia-01"] == DayVisits(
        visits=3,
        drive_throughs=1,
        dose_seconds={"response|vehicle|proactive": 1245.0, "roads|vehicle|proactive": 610.5},
        qualifying={
            "v1": ("2026-11-20T11:00:00.000Z", "2026-11-20T11:20:00.000Z"),
            "v4": ("2026-11-20T11:00:00.000Z", "2026-11-20T11:20:00.000Z"),
        },
    )
    assert view.visits["ia-02"].visits == 1  # retracted: counted as a visit id, nothing else
    assert view.visits["ia-02"].dose() == {}
    assert not view.visits["ia-02"].qualifying
    assert sorted(v["visit_id"] for v in await state.visits_of_area(2, day, "ia-01")) == [
        "v1",
        "v2",
        "v4",
    ]
    await state.close()


async def test_inferred_visits_and_dose_are_kept_apart_and_left_out_of_coverage(
    stack, unique: str
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    day = "2026-11-20"
    inferred = visit("v2", "ia-01", "closed", 11.5, inferred=True)
    await write_visits(state, 0, day, visit("v1", "ia-01", "closed", 45.0), inferred)
    dose = [
        DoseAccrued("ia-01", 9_000.0, 9_045.0, "response", "vehicle", "proactive", 45.0),
        DoseAccrued(
            "ia-01",
            9_100.0,
            9_111.5,
            "response",
            "vehicle",
            "proactive",
            11.5,
            inferred=True,
            unit="East Response",
        ),
    ]
    facts = [*dose, inferred_visit_recorded()]
    changes = Changes()
    state.record_presence(changes, 0, facts, {}, {}, {}, 9_200.0)
    await state.commit([PartitionCommit("airwave.pings", 0, None, changes)])

    view = await state.presence_view(1, [day])
    assert view.visits["ia-01"].drive_throughs == 2
    assert view.visits["ia-01"].dose() == {
        "response|vehicle|proactive": 45.0,
        "response|vehicle|proactive|inferred": 11.5,
    }
    # the window splits have the unit (before ``inferred``), the day's visit splits have none
    assert view.dose_total["ia-01"] == {
        "response|vehicle|proactive|unknown": 45.0,
        "response|vehicle|proactive|East Response|inferred": 11.5,
    }
    assert await state.visit_history(1, 9_000.0, 3_600.0) == {}
    await state.close()


def inferred_visit_recorded() -> VisitRecorded:
    return VisitRecorded(
        Visit(
            "v2", "2350001", "ia-01", "response", "vehicle", "proactive", 9_100.0, 9_111.5,
            11.5, False, True, 11.5, 0, "closed", inferred=True,
        )
    )  # fmt: skip


async def test_what_the_evaluator_reads_and_holds_of_a_day_does_not_grow_with_its_visits(
    stack, unique: str
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    held: dict[str, int] = {}
    views = []
    for day, count in (("2026-11-20", 100), ("2026-11-21", 5_100)):
        changes = Changes()
        visits = {
            f"v{n}": (day, visit(f"v{n}", f"ia-{n % 20:02d}", "closed", 60.0)) for n in range(count)
        }
        state.record_presence(changes, 0, [], visits, {}, {}, 0.0)
        await state.commit([PartitionCommit("airwave.pings", 0, None, changes)])
        await state.presence_view(1, [day])  # a read before: what is kept from one to the next
        tracemalloc.start()
        try:
            before, _ = tracemalloc.get_traced_memory()
            views.append(await state.presence_view(1, [day]))
            held[day], _ = tracemalloc.get_traced_memory()
            held[day] -= before
        finally:
            tracemalloc.stop()

    assert views[1].visits["ia-07"].drive_throughs == 5_100 // 20
    assert held["2026-11-21"] - held["2026-11-20"] < 100_000  # not ~1.8 KB per visit
    await state.close()


async def test_visits_stored_before_the_day_summary_are_summarised_on_the_days_next_write(
    stack, unique: str
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    day = "2026-11-20"
    earlier = [
        visit("v1", "ia-01", "open", 650.0),
        visit("v2", "ia-01", "closed", 60.0),
        visit("v3", "ia-01", "closed", 9.0, inferred=True),
    ]
    await state.redis.hset(
        state.pings_slice(0) + f":visits:{day}",
        mapping={str(v["visit_id"]): orjson.dumps(v) for v in earlier},
    )

    await write_visits(state, 0, day, visit("v1", "ia-01", "closed", 1200.0))
    view = await state.presence_view(1, [day])

    assert view.visits["ia-01"] == DayVisits(
        visits=3,
        drive_throughs=2,
        dose_seconds={
            "response|vehicle|proactive": 1260.0,
            "response|vehicle|proactive|inferred": 9.0,
        },
        qualifying={"v1": ("2026-11-20T11:00:00.000Z", "2026-11-20T11:20:00.000Z")},
    )
    await state.close()


async def test_a_light_read_takes_the_figures_from_the_last_full_one(stack, unique: str) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(redis_url=stack.redis_url, key_prefix=unique)
    runtime = Runtime.create(settings, create_app(settings))
    slot = runtime.state.pings_slice(0)
    now = 1_795_176_000.0  # 2026-11-20T12:00:00Z
    day = "2026-11-20"
    await runtime.state.redis.hset(slot + ":present", "ia-01|2001001", "response|foot")
    await runtime.state.redis.hset(slot + ":dose:total", "ia-01|response|foot|proactive", "60")
    await write_visits(runtime.state, 0, day, visit("v1", "ia-01", "open", 60.0))

    full = await read_areas(runtime, now, None, wall_now=100.0)
    await runtime.state.redis.hset(slot + ":present", "ia-02|2001002", "roads|vehicle")
    await runtime.state.redis.hset(slot + ":dose:total", "ia-01|response|foot|proactive", "600")
    light = await read_areas(runtime, now, full.figures, wall_now=105.0)
    again = await read_areas(runtime, now, None, wall_now=111.0)

    assert full.figures.read_at == 100.0
    assert light.figures is full.figures
    assert set(light.presence.present) == {"ia-01", "ia-02"}  # who is present: read every time
    assert light.presence.dose_windows[900]["ia-01"] == {"response|foot|proactive": 60.0}
    assert light.presence.visits["ia-01"].visits == 1
    assert again.presence.dose_windows[900]["ia-01"] == {"response|foot|proactive": 600.0}
    assert again.figures.read_at == 111.0
    await runtime.state.close()


def qualifying_visit(visit_id: str, area_id: str, start: float, **changed: object) -> VisitRecorded:
    visit = Visit(
        visit_id,
        "2350001",
        area_id,
        "response",
        "foot",
        "proactive",
        start,
        start + 900.0,
        900.0,
        True,
        False,
        900.0,
        0,
        "closed",
    )
    return VisitRecorded(replace(visit, **changed))  # type: ignore[arg-type]


async def test_coverage_judged_from_an_instant_reads_the_visits_around_it(
    stack, unique: str
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    facts = [
        qualifying_visit("v1", "ia-1", 1_000.0),
        qualifying_visit("v2", "ia-1", 3_000.0),
        qualifying_visit("v3", "ia-1", 5_000.0),
        qualifying_visit("v3", "ia-1", 5_000.0, revision=1, status="retracted"),
        qualifying_visit("v4", "ia-2", 9_000.0),
        qualifying_visit("v5", "ia-2", 9_950.0, seconds=100.0, qualifying=False),
    ]
    changes = Changes()
    state.record_presence(changes, 1, facts, {}, {}, {}, 10_000.0)
    await state.commit([PartitionCommit("airwave.pings", 1, 0, changes)])

    assert await state.visit_history(4, 4_000.0, 3_600.0) == {
        "ia-1": VisitHistory((3_000.0, 3_900.0), ()),
        "ia-2": VisitHistory(None, ((9_000.0, 9_900.0), (9_950.0, 10_050.0))),
    }
    assert (await state.visit_history(4, 1_500.0, 3_600.0))["ia-1"] == VisitHistory(
        None, ((1_000.0, 1_900.0), (3_000.0, 3_900.0))
    )
    assert await state.visit_history(4, 10_000.0, 3_600.0) == {
        "ia-2": VisitHistory((9_000.0, 9_900.0), ((9_950.0, 10_050.0),)),
    }
    assert await state.visit_history(4, 20_000.0, 3_600.0) == {}
    open_visit = qualifying_visit("v6", "ia-3", 12_000.0, end=None, status="open")
    changes = Changes()
    state.record_presence(changes, 1, [open_visit], {}, {}, {}, 13_000.0)
    await state.commit([PartitionCommit("airwave.pings", 1, 1, changes)])
    assert await state.visit_history(4, 20_000.0, 3_600.0, also=["ia-3"]) == {
        "ia-3": VisitHistory((12_000.0, 12_900.0), ((12_000.0, math.inf),)),
    }
    await state.close()


async def test_the_incidents_open_since_a_time_are_those_open_now_and_those_closed_after_it(
    stack, unique: str
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    slot = state.slot("cad.incidents", 0)
    changes = Changes()
    shown = {"incident_id": "open"}
    state.record_incident(changes, slot, "open", {"id": "open"}, [], [], {}, shown)
    state.record_incident(changes, slot, "early", {"id": "early"}, [], [], {}, None, 1_000.0)
    state.record_incident(changes, slot, "late", {"id": "late"}, [], [], {}, None, 3_000.0)
    await state.commit([PartitionCommit("cad.incidents", 0, 0, changes)])

    found = await state.incidents_open_since(2, 2_000.0)
    assert sorted(orjson.loads(blob)["id"] for blob in found) == ["late", "open"]
    await state.close()


async def test_roster_versions_are_kept_latest_first_whatever_the_read_order(
    stack, unique: str
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    times = [300.25, None, 100.5, 200.125, *(1000.0 + n for n in range(ROSTER_VERSIONS_KEPT - 2))]
    versions_before = int(await state.redis.get(state.roster_version_key) or 0)
    for offset, since in enumerate(times):
        changes = Changes()
        entry = orjson.dumps({"callsign": f"K{since}"}).decode()
        state.record_roster_version(changes, "3200001", since, entry)
        await state.commit([PartitionCommit("resources.roster", 0, offset, changes)])
    again = Changes()
    state.record_roster_version(again, "3200001", 100.5, orjson.dumps({"callsign": "X"}).decode())
    await state.commit([PartitionCommit("resources.roster", 0, len(times), again)])
    await state.redis.hset(state.roster_key, "3200001", b"{}")

    (kept,) = (await state.roster_versions(["3200001"])).values()

    assert [version.since for version in kept] == [
        200.125,
        300.25,
        *(1000.0 + n for n in range(ROSTER_VERSIONS_KEPT - 2)),
    ]
    assert kept[0].entry == {"callsign": "K200.125"}
    assert int(await state.redis.get(state.roster_version_key)) == versions_before + len(times)
    await state.close()


async def test_a_radio_with_no_history_has_its_current_entry_from_the_beginning(
    stack, unique: str
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    await state.redis.hset(state.roster_key, "3200001", orjson.dumps({"callsign": "K1"}))

    found = await state.roster_versions(["3200001", "3200002"])

    await state.close()
    assert found == {"3200001": (RosterVersion(BEGINNING, {"callsign": "K1"}),), "3200002": ()}


def patrol_dose(start: float, seconds: float, sign: int = 1) -> DoseAccrued:
    return DoseAccrued(
        "ia-01", start, start + seconds, "response", "foot", "proactive", sign * seconds, "NPT"
    )


async def test_patrol_minutes_merge_partitions_and_survive_replays_and_corrections(
    stack, unique: str
) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(redis_url=stack.redis_url, key_prefix=unique)
    runtime = Runtime.create(settings, create_app(settings))
    state = runtime.state
    start = 1_795_176_000.0  # 2026-11-20T12:00:00Z
    now = start + 840.0  # the 15-minute window still holds the first minute
    ten_minutes = [patrol_dose(start + 30.0 * i, 30.0) for i in range(20)]

    async def write(partition: int, offset: int, facts: list[DoseAccrued]) -> None:
        changes = Changes()
        state.record_presence(changes, partition, facts, {}, {}, {}, now)
        await state.commit([PartitionCommit("airwave.pings", partition, offset, changes)])

    # two officers together for 10 minutes, each on its own partition
    await write(0, 1, ten_minutes[:10])
    await write(0, 2, ten_minutes[10:])
    await write(0, 2, ten_minutes[10:])  # a replayed batch: already applied
    await write(1, 1, ten_minutes)
    # a late fix splits one segment on partition 1: taken back and made again in two
    late = [
        patrol_dose(start + 60.0, 30.0, -1),
        patrol_dose(start + 60, 10),
        patrol_dose(start + 70, 20),
    ]
    await write(1, 2, late)

    patrol = PatrolMinutes()
    read = await read_areas(runtime, now, None, 1.0, patrol)
    assert sum(read.presence.dose_windows[3600]["ia-01"].values()) == pytest.approx(1200.0)
    assert read.presence.patrol_windows["ia-01"][3600] == 600.0
    assert read.presence.patrol_windows["ia-01"][900] == 600.0
    assert read.presence.patrol_today["ia-01"] == 600.0

    # a third officer alone for 5 more minutes, read by the same leader and by a new one
    await write(1, 3, [patrol_dose(start + 600.0 + 30.0 * i, 30.0) for i in range(10)])
    again = await read_areas(runtime, now, None, 2.0, patrol)
    fresh = await read_areas(runtime, now, None, 3.0, PatrolMinutes())
    assert again.presence.patrol_windows["ia-01"][3600] == 900.0
    assert fresh.presence.patrol_windows == again.presence.patrol_windows
    assert fresh.presence.patrol_today == again.presence.patrol_today == {"ia-01": 900.0}
    await state.close()


async def test_a_release_fences_its_owner_but_leaves_a_later_claim_alone(
    stack, unique: str
) -> None:  # type: ignore[no-untyped-def]
    state = State(stack.redis_url, unique, Metrics([]))
    held = await state.claim("src", [0, 1])
    await state.release("src", {0: held[0][0]})  # let go of partition 0
    released = await state.owners("src", [0, 1, 2])
    taken = await state.claim("src", [1])  # another worker took partition 1 over
    await state.release("src", {1: held[1][0]})  # a late release of the first worker's
    late = await state.commit([PartitionCommit("src", 0, 4, Changes(), held[0][0])])

    assert released == {0: 2, 1: 1, 2: None}
    assert await state.owners("src", [1]) == {1: taken[1][0]} == {1: 2}
    assert late == [False]
    await state.close()


async def test_patrol_steps_that_cancel_across_batches_leave_no_field(stack, unique: str) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(redis_url=stack.redis_url, key_prefix=unique)
    runtime = Runtime.create(settings, create_app(settings))
    state = runtime.state
    start = 1_795_176_000.0  # 2026-11-20T12:00:00Z
    now = start + 840.0
    for offset, dose in enumerate([patrol_dose(start + 10.0 * i, 10.0) for i in range(5)]):
        changes = Changes()  # one radio, one fix a batch: each step at a fix cancels the next
        state.record_presence(changes, 0, [dose], {}, {}, {}, now)
        await state.commit([PartitionCommit("airwave.pings", 0, offset, changes)])

    minute = int(start // 60)
    steps = await state.redis.hgetall(layout.PATROL_STEPS.of(state.pings_slice(0), minute))
    read = await read_areas(runtime, now, None, 1.0, PatrolMinutes())
    await state.close()
    assert steps == {b"ia-01|0": b"1", b"ia-01|50000": b"-1"}
    assert read.presence.patrol_windows["ia-01"][3600] == 50.0
