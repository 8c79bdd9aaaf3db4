"""``coverwatch simulate`` and ``coverwatch areas``: argument handling around the simulator."""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import cast

import orjson

from streams.domain.areas import (
    AREA_KINDS,
    AreaDefinition,
    AreaPackError,
    area_to_feature,
    parse_area_pack,
)
from streams.domain.rings import pack_with_rings
from streams.progress import counted
from streams.settings import Settings
from streams.simulator.geography import load_default_area_pack
from streams.simulator.publisher import publish, write_file
from streams.simulator.world import Record, SimulationOptions, generate


def read_area_pack(path: Path) -> list[AreaDefinition]:
    """The areas of a pack file; :class:`AreaPackError` lists every problem."""
    try:
        document = orjson.loads(path.read_bytes())
    except orjson.JSONDecodeError as error:
        raise AreaPackError([f"{path} is not JSON: {error}"]) from None
    return parse_area_pack(document)


def area_records(areas: list[AreaDefinition]) -> Iterator[Record]:
    """One ``areas.definitions`` record per area."""
    for area in areas:
        value = {"schema": "areas.definitions/1", **area_to_feature(area)}
        yield Record(0.0, "areas.definitions", area.area_id, orjson.dumps(value))


def areas(args: argparse.Namespace, settings: Settings) -> int:
    """Validate an area pack; with ``load`` publish it to ``areas.definitions``; with ``rings``
    write it with fresh displacement rings."""
    try:
        if args.action == "rings":
            return write_rings(args.file, args.out, args.ring_m)
        pack = read_area_pack(args.file)
    except OSError as error:  # a missing or unreadable file: one line, the reason
        print(f"coverwatch areas {args.action}: {args.file}: {error.strerror}", file=sys.stderr)
        return 2
    except AreaPackError as error:
        print(f"coverwatch areas {args.action}: {args.file}: {error}", file=sys.stderr)
        return 2
    kinds = {kind: sum(1 for a in pack if a.kind == kind) for kind in AREA_KINDS}
    print(
        f"{args.file}: {len(pack)} areas OK ({kinds['impact']} impact, "
        f"{kinds['comparison']} comparison, {kinds['ring']} ring, {kinds['other']} other)"
    )
    if args.action == "load":
        sent = asyncio.run(
            publish(
                area_records(pack),
                settings.kafka_bootstrap,
                speed=None,
                topic_prefix=settings.topic_prefix,
            )
        )
        print(f"published {sent} areas to {settings.topic('areas.definitions')}")
    return 0


def write_rings(pack_file: Path, out: Path | None, default_ring_m: float) -> int:
    """Write the pack with fresh rings (:func:`streams.domain.rings.pack_with_rings`) to ``out``,
    or to standard output."""
    try:
        document = orjson.loads(pack_file.read_bytes())
    except orjson.JSONDecodeError as error:
        raise AreaPackError([f"{pack_file} is not JSON: {error}"]) from None
    if not default_ring_m > 0:
        raise AreaPackError([f"--ring-m must be above 0, not {default_ring_m}"])
    ringed = pack_with_rings(document, default_ring_m)
    text = orjson.dumps(ringed, option=orjson.OPT_INDENT_2) + b"\n"
    features = cast(list[dict[str, dict[str, object]]], ringed["features"])
    rings = sum(1 for feature in features if feature["properties"]["kind"] == "ring")
    if out is None:
        sys.stdout.buffer.write(text)
    else:
        out.write_bytes(text)
        print(f"{out}: {rings} rings in {len(features)} features")
    return 0


def _duration_seconds(args: argparse.Namespace) -> float:
    """``--days`` whole days, else ``--hours`` (0: endless)."""
    days, hours = int(args.days), float(args.hours)
    if days > 0:
        return days * 86400.0
    return hours * 3600.0 if hours > 0 else math.inf


def simulate(args: argparse.Namespace, settings: Settings) -> int:
    """Run the simulator to a file or to the broker."""
    start = (
        datetime.fromisoformat(args.start)
        if args.start
        else datetime.now(UTC).replace(second=0, microsecond=0)
    )
    pack = read_area_pack(args.areas) if args.areas else load_default_area_pack()
    try:
        options = SimulationOptions(
            seed=args.seed,
            officers=args.officers,
            start=start,
            duration_seconds=_duration_seconds(args),
            malformed_rate=args.malformed_rate,
            area_crimes_per_day=args.area_crimes_per_day,
            crime_call_share=args.crime_call_share,
            effect_from_day=args.effect_from_day,
            deterrence_share=args.deterrence_share,
            deterrence_s=args.deterrence_minutes * 60.0,
            displacement_share=args.displacement_share,
        )
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    records = counted(generate(options, pack), "simulating")
    if args.sink == "file":
        if args.out is None:
            print("--sink file needs --out FILE", file=sys.stderr)
            return 2
        print(f"wrote {write_file(records, args.out)} records to {args.out}")
        return 0
    sent = asyncio.run(
        publish(
            records,
            settings.kafka_bootstrap,
            speed=args.speed,
            topic_prefix=settings.topic_prefix,
            preroll_s=args.preroll_hours * 3600.0,
        )
    )
    print(f"published {sent} records")
    return 0
