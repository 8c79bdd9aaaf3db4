"""The ``coverwatch`` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from datetime import date
from pathlib import Path

from streams.settings import Settings, SettingsError


def _settings(for_worker: bool = False) -> Settings:
    """Settings from the environment, or exit 2 listing every problem."""
    try:
        return Settings.from_env(for_worker=for_worker)
    except SettingsError as error:
        print(error, file=sys.stderr)
        raise SystemExit(2) from None


def _settings_or_defaults() -> Settings:
    """Settings from the environment, or the defaults where they are not valid (the command
    itself then reports every problem)."""
    try:
        return Settings.from_env()
    except SettingsError:
        return Settings()


def _cmd_up(args: argparse.Namespace) -> int:
    from streams.devtools.stack.up import UpOptions, up

    if args.history_days < 0:
        print("--history-days must be >= 0", file=sys.stderr)
        return 2
    options = UpOptions(
        simulator=not args.no_simulator,
        endpoints_file=args.endpoints_file,
        kafka_port=args.kafka_port,
        redis_port=args.redis_port,
        web_port=args.web_port,
        speed=args.speed,
        officers=args.officers,
        seed=args.seed,
        history_days=args.history_days,
    )
    return up(_settings(), options)


def _cmd_worker(args: argparse.Namespace) -> int:
    from streams.worker import run_worker

    return run_worker(_settings(for_worker=True))


def _cmd_topics(args: argparse.Namespace) -> int:
    from streams.kafka.admin import ensure_topics

    settings = _settings()
    report = asyncio.run(ensure_topics(settings.kafka_bootstrap, settings.topic_prefix))
    for line in report.lines():
        print(line)
    if not report.complete:
        print(
            "warning: some existing topics keep other configs than a rebuild needs (above)",
            file=sys.stderr,
        )
    return 0


def _cmd_rebuild(args: argparse.Namespace) -> int:
    from streams.engines.rebuild import RebuildError, rebuild

    settings = _settings()

    def say(line: str) -> None:
        print(f"rebuild: {line}", flush=True)

    try:
        epoch = asyncio.run(rebuild(settings, say, workers_stopped=args.workers_stopped))
    except RebuildError as error:
        print(f"coverwatch rebuild: {error}", file=sys.stderr)
        return 2
    say(f"done (epoch {epoch}); start the workers: they re-read the inputs and catch up")
    return 0


def _cmd_adopt(args: argparse.Namespace) -> int:
    from streams.engines.rebuild import RebuildError, adopt

    try:
        asyncio.run(adopt(_settings(), print))
    except RebuildError as error:
        print(f"coverwatch adopt: {error}", file=sys.stderr)
        return 2
    return 0


def _cmd_publish(args: argparse.Namespace) -> int:
    from streams.progress import counted
    from streams.simulator.publisher import publish, read_file

    settings = _settings()
    if args.speed is not None and args.speed <= 0:
        print("coverwatch publish: --speed must be above 0", file=sys.stderr)
        return 2
    if not args.file.is_file():
        print(f"coverwatch publish: {args.file} is not a file", file=sys.stderr)
        return 2
    try:
        count = asyncio.run(
            publish(
                counted(read_file(args.file), f"publishing {args.file.name}"),
                settings.kafka_bootstrap,
                speed=args.speed,
                topic_prefix=settings.topic_prefix,
            )
        )
    except (ValueError, OSError) as error:  # a bad line (named) or an unreadable file
        print(f"coverwatch publish: {error}", file=sys.stderr)
        return 2
    print(f"published {count} messages from {args.file}")
    return 0


def _cmd_simulate(args: argparse.Namespace) -> int:
    from streams.simulator.cli import simulate

    return simulate(args, _settings())


def _cmd_areas(args: argparse.Namespace) -> int:
    from streams.simulator.cli import areas

    return areas(args, _settings())


def _cmd_report(args: argparse.Namespace) -> int:
    settings = _settings()
    archive = args.archive or settings.archive_url
    if not archive:
        print(
            "coverwatch report: no archive: pass --archive or set COVERWATCH_ARCHIVE_URL",
            file=sys.stderr,
        )
        return 2
    if (args.baseline_from is None) != (args.baseline_to is None):
        print(
            "coverwatch report: give both --baseline-from and --baseline-to, or neither",
            file=sys.stderr,
        )
        return 2
    local = archive.removeprefix("file://") if archive.startswith("file://") else None
    if local is not None and not Path(local).is_dir():
        print(f"coverwatch report: the archive {archive} is not a directory", file=sys.stderr)
        return 2
    baseline = (args.baseline_from, args.baseline_to) if args.baseline_from else None
    from streams.evaluation.report import write_report

    try:
        index = write_report(
            archive,
            args.out,
            period=(args.from_day, args.to_day),
            baseline=baseline,
            zone=settings.timezone,
        )
    except ValueError as error:
        print(f"coverwatch report: {error}", file=sys.stderr)
        return 2
    print(f"report written: {index}")
    return 0


def parser() -> argparse.ArgumentParser:
    """The argument parser of every sub-command."""
    root = argparse.ArgumentParser(
        prog="coverwatch",
        description="Coverwatch: who is present in each Impact Area, its dose and demand, and "
        "which areas are uncovered, live from Airwave and CAD (docs: README.md, docs/).",
    )
    commands = root.add_subparsers(
        dest="command",
        required=True,
        metavar="COMMAND",
        help="what to do (COMMAND --help says more)",
    )
    _add_up(commands)
    _add_service_commands(commands)
    _add_publish(commands)
    _add_simulate(commands)
    _add_areas(commands)
    _add_report(commands)
    return root


_Commands = argparse._SubParsersAction  # the type argparse gives no public name


def _add_areas(commands: _Commands[argparse.ArgumentParser]) -> None:
    areas = commands.add_parser(
        "areas", help="validate or load an area pack, or add its displacement rings"
    )
    areas.add_argument(
        "action",
        choices=("validate", "load", "rings"),
        help="rings: write the pack with a fresh displacement ring per impact and comparison area",
    )
    areas.add_argument("file", type=Path, help="the area pack (GeoJSON FeatureCollection)")
    areas.add_argument(
        "--out", type=Path, help="rings: where to write the pack (default: standard output)"
    )
    areas.add_argument(
        "--ring-m",
        type=float,
        default=250.0,
        help="rings: ring width in metres where an area has no ring_m (default 250)",
    )
    areas.set_defaults(run=_cmd_areas)


def _add_up(commands: _Commands[argparse.ArgumentParser]) -> None:
    up = commands.add_parser(
        "up", help="run the embedded stack (broker, Redis, worker, simulator, web)"
    )
    up.add_argument("--no-simulator", action="store_true", help="do not start the simulator")
    up.add_argument("--endpoints-file", type=Path, help="write the endpoints as JSON to this file")
    up.add_argument("--kafka-port", type=int, default=0, help="broker port (default: a free one)")
    up.add_argument("--redis-port", type=int, default=0, help="Redis port (default: a free one)")
    up.add_argument("--web-port", type=int, default=0, help="web port (default: a free one)")
    up.add_argument("--speed", type=float, default=60.0, help="simulated seconds per real second")
    up.add_argument("--officers", type=int, default=150, help="simulated officers")
    up.add_argument("--seed", type=int, default=7, help="simulator seed")
    up.add_argument(
        "--history-days",
        type=int,
        default=2,
        help="whole days of history published at once before the demo opens (archived, with a "
        "daily report written; 0: none)",
    )
    up.set_defaults(run=_cmd_up)


def _add_service_commands(commands: _Commands[argparse.ArgumentParser]) -> None:
    """The production commands: worker, topics, rebuild, adopt."""
    worker = commands.add_parser("worker", help="run one Faust worker (production)")
    worker.set_defaults(run=_cmd_worker)

    topics = commands.add_parser(
        "topics",
        help="create the contract topics (partitions, retention) on the configured broker; "
        "report and update the retention of existing ones",
    )
    topics.set_defaults(run=_cmd_topics)

    rebuild = commands.add_parser(
        "rebuild",
        help="rebuild the Redis state from the topics (stop every worker first, start them after)",
    )
    rebuild.add_argument(
        "--workers-stopped",
        action="store_true",
        help="do not wait for the consumer group to show no member: you have stopped every "
        "worker (for brokers whose group membership cannot be trusted, such as Tansu, which "
        "lists a member that left cleanly until the group next rebalances)",
    )
    rebuild.set_defaults(run=_cmd_rebuild)

    adopt = commands.add_parser(
        "adopt",
        help="write an epoch into a Redis store kept from a version without epochs (an "
        "upgrade); every key is kept",
    )
    adopt.set_defaults(run=_cmd_adopt)


def _add_publish(commands: _Commands[argparse.ArgumentParser]) -> None:
    publish = commands.add_parser("publish", help="publish a recorded JSONL file to the broker")
    publish.add_argument(
        "file",
        type=Path,
        help="the recording: one JSON object a line, with topic, key, value (or value_text or "
        "value_base64) and an optional at (seconds into the recording)",
    )
    publish.add_argument(
        "--speed",
        type=float,
        default=None,
        help="replay at this many recorded seconds per real second (default: max)",
    )
    publish.set_defaults(run=_cmd_publish)


def _add_simulate(commands: _Commands[argparse.ArgumentParser]) -> None:
    simulate = commands.add_parser("simulate", help="generate a simulated force area")
    simulate.add_argument(
        "--sink",
        choices=("kafka", "file"),
        default="file",
        help="publish to the configured broker, or write a JSONL recording (default: file)",
    )
    simulate.add_argument("--out", type=Path, help="JSONL output file for --sink file")
    simulate.add_argument(
        "--seed", type=int, default=1, help="the random seed: the same seed, the same city"
    )
    simulate.add_argument(
        "--officers", type=int, default=200, help="officers on duty (default 200)"
    )
    simulate.add_argument(
        "--hours", type=float, default=1.0, help="simulated duration (0: endless, day after day)"
    )
    simulate.add_argument(
        "--days", type=int, default=0, help="simulated whole days (instead of --hours)"
    )
    simulate.add_argument("--start", help="simulated start, RFC 3339 (default: now, to the minute)")
    simulate.add_argument(
        "--speed",
        type=float,
        default=None,
        help="simulated seconds per real second (default: as fast as possible)",
    )
    simulate.add_argument(
        "--malformed-rate",
        type=float,
        default=0.0,
        help="share of messages made malformed on purpose, to exercise the deadletters",
    )
    simulate.add_argument(
        "--preroll-hours",
        type=float,
        default=0.0,
        help="with --speed: publish the first hours at once, as history to start from",
    )
    simulate.add_argument("--areas", type=Path, help="area pack (default: the bundled pack)")
    _add_planted_effects(simulate)
    simulate.set_defaults(run=_cmd_simulate)


def _add_report(commands: _Commands[argparse.ArgumentParser]) -> None:
    report = commands.add_parser(
        "report",
        help="write the Impact Area evaluation (docs/report.md) for a period from the archive: "
        "DIR/index.html (offline) and DIR/tables/*.csv",
    )
    day = date.fromisoformat
    report.add_argument("--from", dest="from_day", type=day, required=True, help="first day")
    report.add_argument("--to", dest="to_day", type=day, required=True, help="last day")
    report.add_argument("--baseline-from", type=day, help="first baseline day")
    report.add_argument(
        "--baseline-to",
        type=day,
        help="last baseline day (default baseline: as many days just before the period)",
    )
    report.add_argument("--out", type=Path, required=True, help="the report's directory")
    report.add_argument(
        "--archive", help="the archive's URL (default: COVERWATCH_ARCHIVE_URL)", default=""
    )
    report.set_defaults(run=_cmd_report)


def _add_planted_effects(simulate: argparse.ArgumentParser) -> None:
    """Area crime and planted effects (docs/evaluation-testing.md); off unless given."""
    effects = simulate.add_argument_group("area crime and planted effects")
    effects.add_argument(
        "--area-crimes-per-day",
        type=float,
        default=None,
        help="mean crimes per day in each Impact and comparison area and each ring",
    )
    effects.add_argument(
        "--crime-call-share",
        type=float,
        default=0.1,
        help="share of those crimes reported by a call (a CAD incident)",
    )
    effects.add_argument(
        "--effect-from-day", type=int, default=None, help="first day of the effect (1 = first)"
    )
    effects.add_argument(
        "--deterrence-share",
        type=float,
        default=0.0,
        help="share of an Impact Area's crime removed during and after a qualifying visit",
    )
    effects.add_argument(
        "--deterrence-minutes",
        type=float,
        default=60.0,
        help="how long the deterrence lasts after the visit ends",
    )
    effects.add_argument(
        "--displacement-share",
        type=float,
        default=0.0,
        help="share of the prevented crime moved into the area's ring",
    )


BROKER_COMMANDS = frozenset({"topics", "publish", "areas", "simulate", "rebuild", "adopt"})
"""The short-lived commands that talk to the broker: a broker that does not answer is an
expected condition there, told in one line (exit 2), not a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``coverwatch`` console script."""
    args = parser().parse_args(argv)
    if args.command not in BROKER_COMMANDS:
        result: int = args.run(args)
        return result
    from streams.kafka.errors import KafkaError

    settings = _settings_or_defaults()
    if settings.log_level != "debug":  # the broker client's own logs would repeat the error
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    try:
        result = args.run(args)
    except KafkaError as error:
        print(
            f"coverwatch {args.command}: the broker at {settings.kafka_bootstrap} did not answer "
            f"({error}); is it running, and is "
            "COVERWATCH_KAFKA_BOOTSTRAP right?",
            file=sys.stderr,
        )
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
