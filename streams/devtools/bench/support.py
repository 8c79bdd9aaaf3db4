"""What the bench's steps are built from: pure figures (percentiles, ratios, the table, the
console's formats), seeded benchmark data (fleets, pings, synthetic areas), and the no-op Faust
baseline app.

The no-op app is the throughput baseline: the same :class:`~streams.app.CoverwatchApp` (same
fetch wait), the same ``stream.take_events`` batch size and wait, ``concurrency=1``, on the same
``airwave.pings`` topic; it only counts. It runs as a subprocess like the worker
(``python -m streams.devtools.bench.support noop``, configured by the same environment variables),
so
both pay the same process costs, and it serves its count in the worker's /metrics format.
"""

from __future__ import annotations

import math
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import orjson
import shapely
from shapely.geometry import Polygon, box

from streams.domain.areas import RINGED_KINDS, AreaDefinition, area_to_feature
from streams.domain.timefmt import format_ts

# -- figures ------------------------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100) with linear interpolation between closest ranks
    (numpy's default); None for no values."""
    if not 0 <= q <= 100:
        raise ValueError(f"percentile {q} is outside 0..100")
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    fraction = position - low
    return ordered[low] + (ordered[high] - ordered[low]) * fraction


def ratio(value: float | None, baseline: float | None) -> float | None:
    """``value / baseline``, or None when either is missing or the baseline is not positive."""
    if value is None or baseline is None or baseline <= 0 or not math.isfinite(baseline):
        return None
    return value / baseline


def histogram_quantile(buckets: Sequence[tuple[float, float]], q: float) -> float | None:
    """Prometheus ``histogram_quantile``: ``buckets`` are (upper bound, cumulative count) with the
    ``+Inf`` bucket last; linear inside the bucket; None when there are no observations."""
    if not buckets:
        return None
    ordered = sorted(buckets)
    total = ordered[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_bound, lower_count = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower_bound
            if count == lower_count:
                return bound
            return lower_bound + (bound - lower_bound) * (rank - lower_count) / (
                count - lower_count
            )
        lower_bound, lower_count = bound, count
    return lower_bound


def rate_between(samples: Sequence[tuple[float, float]]) -> float | None:
    """Messages per second between the first and the last (time, count) sample; None if the
    samples do not span any time or count."""
    if len(samples) < 2:
        return None
    (t0, c0), (t1, c1) = samples[0], samples[-1]
    if t1 <= t0 or c1 <= c0:
        return None
    return (c1 - c0) / (t1 - t0)


def watermark_latencies(
    sends: Iterable[tuple[int, int, float]], observations: Iterable[tuple[float, Mapping[int, int]]]
) -> tuple[list[float], int]:
    """Latency of each sent message from its send time to the first observation at which its
    partition's applied-offset watermark reached its offset.

    ``sends``: (partition, offset, send time); ``observations``: (time, partition -> watermark)
    in time order. Returns (latencies, how many messages were never observed applied).
    """
    pending: dict[int, list[tuple[int, float]]] = {}
    for partition, offset, sent in sends:
        pending.setdefault(partition, []).append((offset, sent))
    for queue in pending.values():
        queue.sort()
    cursor = dict.fromkeys(pending, 0)
    latencies: list[float] = []
    for seen_at, watermarks in observations:
        for partition, watermark in watermarks.items():
            if partition not in pending:
                continue
            queue = pending[partition]
            index = cursor[partition]
            while index < len(queue) and queue[index][0] <= watermark:
                latencies.append(max(seen_at - queue[index][1], 0.0))
                index += 1
            cursor[partition] = index
    missing = sum(len(queue) - cursor[partition] for partition, queue in pending.items())
    return latencies, missing


_SAMPLE = re.compile(r"([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass
class MetricsText:
    """A parsed Prometheus text exposition: name -> [(labels, value)]."""

    samples: dict[str, list[tuple[dict[str, str], float]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> MetricsText:
        """Every sample line of ``text`` (comments skipped)."""
        parsed = cls()
        for line in text.splitlines():
            if not line or line.startswith("#"):
                continue
            match = _SAMPLE.fullmatch(line.strip())
            if match is None:
                continue
            labels = dict(_LABEL.findall(match[2] or ""))
            parsed.samples.setdefault(match[1], []).append((labels, float(match[3])))
        return parsed

    def value(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
        return sum(
            value
            for sample_labels, value in self.samples.get(name, [])
            if labels.items() <= sample_labels.items()
        )

    def buckets(self, name: str, **labels: str) -> list[tuple[float, float]]:
        """(upper bound, cumulative count) of histogram ``name`` (``name`` without _bucket)."""
        found: dict[float, float] = {}
        for sample_labels, value in self.samples.get(name + "_bucket", []):
            rest = {k: v for k, v in sample_labels.items() if k != "le"}
            if labels.items() <= rest.items() and "le" in sample_labels:
                bound = float(sample_labels["le"])
                found[bound] = found.get(bound, 0.0) + value
        return sorted(found.items())


def bucket_delta(
    after: Sequence[tuple[float, float]], before: Sequence[tuple[float, float]]
) -> list[tuple[float, float]]:
    """Cumulative histogram buckets observed between two scrapes."""
    earlier = dict(before)
    return [(bound, count - earlier.get(bound, 0.0)) for bound, count in after]


# -- the table ----------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the results table (and of the JSON file)."""

    measurement: str
    value: float | None
    unit: str
    baseline: float | None = None
    baseline_label: str = ""
    target: str = ""
    passed: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Value over baseline, when there is a baseline."""
        return ratio(self.value, self.baseline)

    def as_json(self) -> dict[str, Any]:
        """The row for the JSON file."""
        return {
            "measurement": self.measurement,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "baseline_label": self.baseline_label,
            "ratio": self.ratio,
            "target": self.target,
            "result": verdict(self.passed),
            "note": self.note,
        }


SATURATED = 0.95
"""A consumer reading a backlog at this share of one core or more is CPU-bound."""


def saturation_note(shares: Mapping[str, float | None]) -> str:
    """How much of a core each consumer of a ratio used while reading its backlog, and a warning
    when one used less: it also waited (a stall of the machine, the broker or Redis), so the
    ratio is not the CPU-bound one its target is about."""
    known = {name: share for name, share in shares.items() if share is not None}
    if not known or len(known) < len(shares):
        return ""
    note = "CPU share of a core: " + ", ".join(
        f"{name} {share:.2f}" for name, share in known.items()
    )
    if min(known.values()) < SATURATED:
        note += "; below a full core a consumer also waited, so this ratio is not CPU-bound"
    return note


def verdict(passed: bool | None) -> str:
    """``pass``, ``FAIL`` or ``-`` (no target, or not measured)."""
    if passed is None:
        return "-"
    return "pass" if passed else "FAIL"


def format_number(value: float | None, unit: str = "") -> str:
    """A figure for the table: three significant figures, thousands separated; ``-`` if none."""
    if value is None or not math.isfinite(value):
        return "-"
    magnitude = abs(value)
    if magnitude >= 100:
        text = f"{value:,.0f}"
    elif magnitude >= 10:
        text = f"{value:.1f}"
    elif magnitude >= 1:
        text = f"{value:.2f}"
    elif magnitude == 0:
        text = "0"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def format_ratio(value: float | None) -> str:
    """A ratio for the table: ``0.87x``; two significant figures below 0.1 (``0.0042x``)."""
    if value is None or not math.isfinite(value):
        return "-"
    return f"{value:.2g}x" if 0 < abs(value) < 0.1 else f"{value:.2f}x"


def format_table(rows: Sequence[Row]) -> str:
    """The results as an aligned text table: measurement, value, baseline, ratio, target,
    result; notes (such as 'not measured: ...') follow the value."""
    header = ("measurement", "value", "baseline", "ratio", "target", "result")
    lines: list[tuple[str, ...]] = [header]
    for row in rows:
        value = format_number(row.value, row.unit) if row.value is not None else row.note or "-"
        baseline = format_number(row.baseline, row.unit)
        if row.baseline is not None and row.baseline_label:
            baseline = f"{baseline} ({row.baseline_label})"
        lines.append(
            (
                row.measurement,
                value,
                baseline,
                format_ratio(row.ratio),
                row.target or "-",
                verdict(row.passed),
            )
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(header))]
    rendered = [
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    ]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    notes = [
        f"  * {row.measurement}: {row.note}" for row in rows if row.value is not None and row.note
    ]
    return "\n".join(rendered + (["", *notes] if notes else []))


def missing_reason(part: object) -> str:
    """Why a step's result is missing: its error, or that it did not run."""
    return str(part.get("error")) if isinstance(part, dict) else "not run"


def figure(value: float | None) -> str:
    """A figure for the console: one decimal, thousands separated; ``-`` if none."""
    return "-" if value is None else f"{value:,.1f}"


def as_ms(value: float | None) -> str:
    """Seconds shown in whole milliseconds; ``-`` if none."""
    return "-" if value is None else f"{value * 1000:.0f} ms"


def cpu_shares_text(cpu: Mapping[str, float]) -> str:
    """CPU shares of one core by process, as ``worker 0.93, redis 0.20``."""
    return ", ".join(f"{name} {share:.2f}" for name, share in cpu.items()) or "-"


# -- seeded data --------------------------------------------------------------------------------

BENCH_EPOCH: Final = 1_795_262_400.0
"""2026-11-21T12:00:00Z: event time of replayed benchmark data (midday: no night band)."""
ROLES: Final = ("response", "neighbourhood", "roads", "offender_management", "partnership")
FOOT_SPEED_MPS: Final = 1.4
VEHICLE_SPEED_MPS: Final = 9.0
METRES_PER_DEGREE_LAT: Final = 111_320.0


@dataclass(frozen=True, slots=True)
class Fleet:
    """Radios with their roster entries and start positions (lon/lat arrays)."""

    issis: list[str]
    vehicle: np.ndarray
    lon: np.ndarray
    lat: np.ndarray

    def roster_messages(self) -> list[tuple[bytes, bytes]]:
        """(key, value) of every radio's ``resources.roster`` entry, all on duty."""
        messages = []
        for index, issi in enumerate(self.issis):
            vehicle = bool(self.vehicle[index])
            role = ROLES[0] if vehicle else ROLES[1 + index % 4]
            value = {
                "schema": "resources.roster/1",
                "issi": issi,
                "officer_id": f"B{index:06d}",
                "callsign": f"X{index:06d}",
                "unit": "Bench Response" if vehicle else "Bench NPT",
                "role": role,
                "device": "vehicle" if vehicle else "handheld",
                "on_duty": True,
            }
            messages.append((issi.encode(), orjson.dumps(value)))
        return messages


def make_fleet(radios: int, areas: Sequence[AreaDefinition], seed: int = 0) -> Fleet:
    """``radios`` radios, half in vehicles; 40% start inside one of ``areas`` (not the patrol
    area), the rest anywhere in the patrol area's bounding box."""
    rng = np.random.default_rng(seed)
    patrol = _patrol_bounds(areas)
    lon = rng.uniform(patrol[0], patrol[2], radios)
    lat = rng.uniform(patrol[1], patrol[3], radios)
    targets = [area for area in areas if area.kind in RINGED_KINDS] or list(areas)
    inside = np.flatnonzero(rng.random(radios) < 0.4)
    if targets and inside.size:
        picks = rng.integers(len(targets), size=inside.size)
        for position, pick in zip(inside.tolist(), picks.tolist(), strict=True):
            lon[position], lat[position] = _point_inside(rng, targets[pick].geometry)
    issis = [str(4_000_000 + index) for index in range(radios)]
    return Fleet(issis, rng.random(radios) < 0.5, lon, lat)


def ping_messages(
    fleet: Fleet, count: int, start_ts: float, rate_per_s: float, seed: int = 1
) -> tuple[list[tuple[bytes, bytes]], Fleet]:
    """``count`` valid ``airwave.pings`` (key, value): message ``i`` is radio ``i % radios`` at
    event time ``start_ts + i / rate_per_s`` (so every radio's fixes are in time order), each a
    random-walk step from the radio's last fix at foot or vehicle speed. Also returns the fleet
    at its last positions, to continue from."""
    rng = np.random.default_rng(seed)
    radios = len(fleet.issis)
    interval_s = radios / rate_per_s
    rounds = -(-count // radios)
    speed = np.where(fleet.vehicle, VEHICLE_SPEED_MPS, FOOT_SPEED_MPS)
    heading = rng.uniform(0.0, 360.0, radios)
    metres_per_degree_lon = METRES_PER_DEGREE_LAT * math.cos(math.radians(float(fleet.lat.mean())))
    lon, lat = fleet.lon.copy(), fleet.lat.copy()
    messages: list[tuple[bytes, bytes]] = []
    keys = [issi.encode() for issi in fleet.issis]
    vehicle = fleet.vehicle.tolist()
    for round_index in range(rounds):
        if round_index:
            heading = (heading + rng.normal(0.0, 30.0, radios)) % 360.0
            step = speed * interval_s * rng.uniform(0.3, 1.0, radios)
            lon = lon + step * np.sin(np.radians(heading)) / metres_per_degree_lon
            lat = lat + step * np.cos(np.radians(heading)) / METRES_PER_DEGREE_LAT
        columns = zip(
            np.round(lon, 6).tolist(),
            np.round(lat, 6).tolist(),
            np.round(heading, 1).tolist(),
            strict=True,
        )
        for index, (fix_lon, fix_lat, fix_heading) in enumerate(columns):
            serial = round_index * radios + index
            if serial >= count:
                break
            value: dict[str, object] = {
                "schema": "airwave.pings/1",
                "issi": fleet.issis[index],
                "ts": format_ts(start_ts + serial / rate_per_s),
                "lat": fix_lat,
                "lon": fix_lon,
                "accuracy_m": 12.0,
            }
            if vehicle[index]:
                value["speed_mps"] = VEHICLE_SPEED_MPS
                value["heading_deg"] = fix_heading
            messages.append((keys[index], orjson.dumps(value)))
    return messages, Fleet(fleet.issis, fleet.vehicle, lon, lat)


def grid_areas(
    count: int, areas: Sequence[AreaDefinition], *, beside: bool = False
) -> list[AreaDefinition]:
    """``count`` square ``comparison`` areas (``grid-00001``...) tiling the patrol area's
    bounding box, so that every ping is inside one of them; or, ``beside``, tiling a box of the
    same size just east of it, where no ping falls (what more areas cost when the radios are
    not in them: the index and the coverage evaluation, not more visits)."""
    if count <= 0:
        return []
    west, south, east, north = _patrol_bounds(areas)
    if beside:
        west, east = east + 0.01, east + 0.01 + (east - west)
    columns = math.ceil(math.sqrt(count * (east - west) / (north - south)))
    rows = math.ceil(count / columns)
    width, height = (east - west) / columns, (north - south) / rows
    cells = []
    for serial in range(count):
        row, column = divmod(serial, columns)
        x0, y0 = west + column * width, south + row * height
        square = box(round(x0, 6), round(y0, 6), round(x0 + width, 6), round(y0 + height, 6))
        cells.append(
            AreaDefinition(
                f"grid-{serial + 1:05d}",
                f"Bench cell {serial + 1}",
                "comparison",
                square,
                {"alert": False},
                {},
            )
        )
    return cells


def area_messages(areas: Sequence[AreaDefinition]) -> list[tuple[bytes, bytes]]:
    """(key, value) of each area's ``areas.definitions`` Feature."""
    return [(area.area_id.encode(), orjson.dumps(area_to_feature(area))) for area in areas]


def square_area(
    area_id: str, lon: float, lat: float, side_m: float, policy: Mapping[str, object]
) -> AreaDefinition:
    """A square ``impact`` area of ``side_m`` around (lon, lat) with ``policy``."""
    half_lat = side_m / 2 / METRES_PER_DEGREE_LAT
    half_lon = side_m / 2 / (METRES_PER_DEGREE_LAT * math.cos(math.radians(lat)))
    square = box(
        round(lon - half_lon, 6),
        round(lat - half_lat, 6),
        round(lon + half_lon, 6),
        round(lat + half_lat, 6),
    )
    return AreaDefinition(area_id, f"Bench {area_id}", "impact", square, dict(policy), {})


def _patrol_bounds(areas: Sequence[AreaDefinition]) -> tuple[float, float, float, float]:
    others = [area for area in areas if area.kind == "other"] or list(areas)
    bounds = np.array([area.geometry.bounds for area in others])
    return (
        float(bounds[:, 0].min()),
        float(bounds[:, 1].min()),
        float(bounds[:, 2].max()),
        float(bounds[:, 3].max()),
    )


def _point_inside(rng: np.random.Generator, geometry: Polygon) -> tuple[float, float]:
    west, south, east, north = geometry.bounds
    for _ in range(200):
        lon, lat = rng.uniform(west, east), rng.uniform(south, north)
        if shapely.contains_xy(geometry, lon, lat):
            return float(lon), float(lat)
    point = geometry.representative_point()
    return float(point.x), float(point.y)


# -- the no-op Faust baseline -------------------------------------------------------------------


def run_noop_worker() -> None:
    """The no-op Faust agent: counts ``airwave.pings`` and serves the count on /metrics."""
    import faust
    from aiohttp import web
    from mode import Service

    from streams import topics
    from streams.app import create_app
    from streams.settings import Settings

    settings = Settings.from_env()
    app = create_app(settings)
    channel = app.topic(
        settings.topic(topics.PINGS),
        key_serializer="raw",
        value_serializer="raw",
        partitions=topics.BY_NAME[topics.PINGS].partitions,
        internal=False,
    )
    consumed = [0]

    @app.agent(channel, name="count_pings", concurrency=1)
    async def count_pings(stream: Any) -> None:
        async for events in stream.take_events(settings.batch_size, within=settings.batch_wait_s):
            consumed[0] += len(events)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def metrics(request: web.Request) -> web.Response:
        text = (
            f'coverwatch_messages_consumed_total{{topic="{topics.PINGS}"}} {consumed[0]}\n'
            f"process_cpu_seconds_total {time.process_time()}\n"
        )
        return web.Response(text=text)

    class CountServer(Service):
        runner: web.AppRunner | None = None

        async def on_start(self) -> None:
            web_app = web.Application()
            web_app.router.add_get("/healthz", healthz)
            web_app.router.add_get("/metrics", metrics)
            self.runner = web.AppRunner(web_app, access_log=None)
            await self.runner.setup()
            await web.TCPSite(self.runner, settings.web_host, settings.web_port).start()

        async def on_stop(self) -> None:
            if self.runner is not None:
                await self.runner.cleanup()

    app.service(CountServer())  # type: ignore[arg-type]
    worker = faust.Worker(
        app, loglevel=settings.log_level, quiet=True, redirect_stdouts=False, override_logging=True
    )
    worker.execute_from_commandline()


if __name__ == "__main__":
    if sys.argv[1:] != ["noop"]:
        sys.exit("usage: python -m streams.devtools.bench.support noop")
    run_noop_worker()
