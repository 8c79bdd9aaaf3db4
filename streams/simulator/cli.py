"""``coverwatch simulate`` and ``coverwatch areas``: argument handling around the simulator."""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson

from streams.domain.areas import AreaDefinition, AreaPackError, area_to_feature, parse_area_pack
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
    """Validate an area pack, and with ``load`` publish it to ``areas.definitions``."""
    try:
        pack = read_area_pack(args.file)
    except (AreaPackError, OSError) as error:
        print(f"{args.file}: {error}", file=sys.stderr)
        return 1
    kinds = {
        kind: sum(1 for a in pack if a.kind == kind) for kind in ("impact", "comparison", "other")
    }
    print(
        f"{args.file}: {len(pack)} areas OK "
        f"({kinds['impact']} impact, {kinds['comparison']} comparison, {kinds['other']} other)"
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
    records = generate(options, pack)
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
