"""The only module that reads the environment: every setting, its variable, default and meaning.

Settings are read once into a frozen :class:`Settings`; every problem is reported together in
one :class:`SettingsError` so a misconfigured deployment fails at start with a clear message.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import unquote, urlparse
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

ClockMode = Literal["wall", "event"]


MAX_METRIC_UNITS: Final = 32
"""The most units ``COVERWATCH_METRIC_UNITS`` may name (each multiplies the per-area series)."""


class SettingsError(ValueError):
    """One or more environment variables are missing or invalid."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("invalid configuration:\n  " + "\n  ".join(problems))
        self.problems = problems


def _setting(env: str, default: Any, doc: str) -> Any:
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True, slots=True)
class Settings:
    """Coverwatch configuration; each field is read from the variable named in its metadata."""

    kafka_bootstrap: str = _setting(
        "COVERWATCH_KAFKA_BOOTSTRAP", "127.0.0.1:9092", "Kafka bootstrap servers, comma separated"
    )
    redis_url: str = _setting(
        "COVERWATCH_REDIS_URL",
        "redis://127.0.0.1:6379/0",
        "Redis URL for the live state (redis+cluster://host:port: a Redis Cluster, any node)",
    )
    app_id: str = _setting(
        "COVERWATCH_APP_ID",
        "coverwatch",
        "Faust app id = Kafka consumer group of the workers",
    )
    topic_prefix: str = _setting(
        "COVERWATCH_TOPIC_PREFIX", "", "Prefix added to every topic name (tenancy, tests)"
    )
    key_prefix: str = _setting(
        "COVERWATCH_KEY_PREFIX", "cw", "Prefix of every Redis key this service writes"
    )
    web_host: str = _setting("COVERWATCH_WEB_HOST", "127.0.0.1", "Address the web server binds")
    web_port: int = _setting(
        "COVERWATCH_WEB_PORT", 8080, "Port of the web server (/healthz, /metrics, API, live page)"
    )
    clock: ClockMode = _setting(
        "COVERWATCH_CLOCK",
        "wall",
        "`wall`: production, now is the wall clock; `event`: now follows the data "
        "(event-time watermark, advanced by `clock.ticks`) for replays and simulations",
    )
    max_future_skew_s: float = _setting(
        "COVERWATCH_MAX_FUTURE_SKEW_S",
        30.0,
        "Reject input dated more than this many seconds after now (`future_timestamp`)",
    )
    event_clock_max_jump_s: float = _setting(
        "COVERWATCH_EVENT_CLOCK_MAX_JUMP_S",
        86400.0,
        "Event clock only: reject input and `clock.ticks` dated more than this after the event "
        "clock (`future_timestamp`), so one absurd timestamp cannot drag a replay's now forward; "
        "large because a fast replay reads partitions in chunks hours apart",
    )
    max_age_s: float = _setting(
        "COVERWATCH_MAX_AGE_S",
        86400.0,
        "Reject input dated more than this many seconds before now (`stale_timestamp`)",
    )
    max_message_bytes: int = _setting(
        "COVERWATCH_MAX_MESSAGE_BYTES",
        65536,
        "Reject larger input values (`oversized`)",
    )
    allowed_lateness_s: float = _setting(
        "COVERWATCH_ALLOWED_LATENESS_S",
        120.0,
        "Out-of-order fixes within this lateness give the in-order result; later ones `too_late`",
    )
    max_gap_s: float = _setting(
        "COVERWATCH_MAX_GAP_S", 300.0, "Longest silence between fixes still counted as presence"
    )
    qualifying_s: float = _setting(
        "COVERWATCH_QUALIFYING_S", 600.0, "Continuous presence that makes a qualifying visit"
    )
    replay_hours: int = _setting(
        "COVERWATCH_REPLAY_HOURS",
        3,
        "Hours the live page's time control goes back (0..24); 0: off, no trail of positions kept",
    )
    drive_through_s: float = _setting(
        "COVERWATCH_DRIVE_THROUGH_S", 120.0, "Visits shorter than this are drive-throughs"
    )
    credit_cap_s: float = _setting(
        "COVERWATCH_CREDIT_CAP_S", 1200.0, "Dose credit per visit is capped at this many seconds"
    )
    exit_buffer_m: float = _setting(
        "COVERWATCH_EXIT_BUFFER_M", 25.0, "An officer leaves an area only when this far outside"
    )
    stuck_fixes: int = _setting(
        "COVERWATCH_STUCK_FIXES",
        10,
        "A radio repeating one position (within 1e-6 degrees) for at least this many fixes and "
        "COVERWATCH_STUCK_S is stuck: it covers nothing from the first of them",
    )
    stuck_s: float = _setting(
        "COVERWATCH_STUCK_S",
        600.0,
        "A frozen run must also last this many seconds before the radio is stuck",
    )
    harm_weights_file: str = _setting(
        "COVERWATCH_HARM_WEIGHTS_FILE",
        "",
        "JSON harm weights table (format: streams/domain/harm.py); empty: the illustrative table",
    )
    timezone: str = _setting(
        "COVERWATCH_TIMEZONE", "Europe/London", "Local time zone for policy bands and 'today'"
    )
    pseudonym_key: str = _setting(
        "COVERWATCH_PSEUDONYM_KEY",
        "",
        "Secret key (>= 16 chars) for the keyed-HMAC officer pseudonyms and visit ids; required "
        "by workers (`coverwatch up` makes a random one)",
    )
    viewer_tokens: str = _setting(
        "COVERWATCH_VIEWER_TOKENS",
        "",
        "API tokens for aggregate views, `name=token[,name=token]` (the name is audited)",
    )
    supervisor_tokens: str = _setting(
        "COVERWATCH_SUPERVISOR_TOKENS",
        "",
        "API tokens that may also read officer-level data, `name=token[,name=token]`",
    )
    tile_url: str = _setting(
        "COVERWATCH_TILE_URL",
        "",
        "Base-map tile URL template for the live page, e.g. `https://tiles.example/{z}/{x}/{y}.png`"
        "; empty: no base map (works offline)",
    )
    tile_attribution: str = _setting(
        "COVERWATCH_TILE_ATTRIBUTION", "", "Attribution shown with the base-map tiles"
    )
    batch_size: int = _setting(
        "COVERWATCH_BATCH_SIZE",
        4000,
        "Most messages an agent (or the pings reader) takes per batch (a backlog is read in "
        "batches this "
        "big: each radio's track is then stored once per batch, not once per fix)",
    )
    batch_wait_s: float = _setting(
        "COVERWATCH_BATCH_WAIT_S",
        0.05,
        "Longest an agent (or the pings reader) waits to fill a batch",
    )
    presence_processes: int = _setting(
        "COVERWATCH_PRESENCE_PROCESSES",
        1,
        "Presence processes per worker (1-4): each applies the pings partitions p with "
        "p % N = its number, on a core of its own. Give a worker with spare cores one per core "
        "left after its event loop, Redis and the broker (docs/scaling.md)",
    )
    join_wait_s: float = _setting(
        "COVERWATCH_JOIN_WAIT_S",
        30.0,
        "On the event clock, longest a pings batch waits for cad.incidents to be read up to its "
        "time, counting only time the broker answered (docs/time-model.md, joins); after that "
        "its fixes are classified with what is there and revised if CAD changes them while they "
        "are within the lateness",
    )
    fetch_max_wait_ms: int = _setting(
        "COVERWATCH_FETCH_MAX_WAIT_MS",
        50,
        "Longest the broker may hold a fetch for more data (Faust hard-codes 1500 ms)",
    )
    session_timeout_s: float = _setting(
        "COVERWATCH_SESSION_TIMEOUT_S",
        10.0,
        "Kafka consumer session timeout; joining a group takes about half of it",
    )
    log_level: str = _setting("COVERWATCH_LOG_LEVEL", "info", "debug, info, warn or error")
    feed_degraded_share: float = _setting(
        "COVERWATCH_FEED_DEGRADED_SHARE",
        0.5,
        "An area that would be at risk or uncovered is `unknown` (`feed_degraded`) while at most "
        "this share of the radios on duty reported within the max gap (0: never)",
    )
    ingest_lag_bound_s: float = _setting(
        "COVERWATCH_INGEST_LAG_BOUND_S",
        300.0,
        "Views are shown with reason `ingest_lag` (and the ingest-lag alert fires) while the "
        "slowest pings partition's event time is more than this behind the clock",
    )
    archive_url: str = _setting(
        "COVERWATCH_ARCHIVE_URL",
        "",
        "Where the Parquet archive is written (docs/archive.md): `file:///abs/dir` or "
        "`s3://bucket/prefix`; empty: no archive (`coverwatch up` archives under its state dir)",
    )
    archive_fix_every_s: float = _setting(
        "COVERWATCH_ARCHIVE_FIX_EVERY_S",
        60.0,
        "The archive keeps one fix per radio per this many seconds of event time (0: every fix)",
    )
    archive_block_records: int = _setting(
        "COVERWATCH_ARCHIVE_BLOCK_RECORDS",
        20000,
        "Offsets per archive block: a partition's records are written a block at a time",
    )
    archive_flush_s: float = _setting(
        "COVERWATCH_ARCHIVE_FLUSH_S",
        60.0,
        "A block's rows are written at most this many seconds after they were read, even when "
        "the block is not full (a later write of the block replaces the file)",
    )
    archive_retention_days: int = _setting(
        "COVERWATCH_ARCHIVE_RETENTION_DAYS",
        400,
        "Archive days older than this many days before today are deleted (0: kept for ever)",
    )
    metric_units: str = _setting(
        "COVERWATCH_METRIC_UNITS",
        "",
        "Roster units shown by name in the area metrics' `unit` label, comma separated (at most "
        f"{MAX_METRIC_UNITS}); every other unit is counted as `other`",
    )

    reports_dir: str = _setting(
        "COVERWATCH_REPORTS_DIR",
        "",
        "Local directory of the daily evaluation reports (served at /reports/); empty: "
        "`reports` next to a `file://` archive, none for an object-store archive",
    )
    report_hour: int = _setting(
        "COVERWATCH_REPORT_HOUR",
        6,
        "Local hour (0-23) after which the report of the day before is written by the "
        "coverage leader",
    )
    report_period_days: int = _setting(
        "COVERWATCH_REPORT_PERIOD_DAYS",
        7,
        "Days a daily report covers, ending on its day",
    )
    report_baseline_from: str = _setting(
        "COVERWATCH_REPORT_BASELINE_FROM",
        "",
        "First day (YYYY-MM-DD) of a fixed baseline for every daily report; empty: the as many "
        "days before each report's period",
    )
    report_baseline_to: str = _setting(
        "COVERWATCH_REPORT_BASELINE_TO",
        "",
        "Last day (YYYY-MM-DD) of the fixed baseline (set with COVERWATCH_REPORT_BASELINE_FROM)",
    )
    report_catch_up_days: int = _setting(
        "COVERWATCH_REPORT_CATCH_UP_DAYS",
        3,
        "At most this many latest due days are written when reports were missed (worker down, "
        "a report failed); older ones are left unwritten",
    )

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, for_worker: bool = False
    ) -> Settings:
        """Read every setting from ``environ`` (default ``os.environ``), validating all of them.

        ``for_worker`` also requires the pseudonym key (only workers see officer identities).
        """
        source = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        problems: list[str] = []
        for spec in fields(cls):
            env = spec.metadata["env"]
            raw = source.get(env)
            if raw is None or raw == "":
                continue
            try:
                values[spec.name] = _PARSERS[type(spec.default)](raw)
            except ValueError as error:
                problems.append(f"{env}={raw!r}: {error}")
        settings = cls(**values)
        problems.extend(settings.problems())
        if for_worker and len(settings.pseudonym_key) < 16:
            problems.append(
                "COVERWATCH_PSEUDONYM_KEY must be set to a secret of at least 16 characters"
            )
        problems.extend(token_problems(settings))
        if problems:
            raise SettingsError(problems)
        return settings

    def problems(self) -> list[str]:
        """What is wrong with these values, one message per problem naming the variable."""
        found: list[str] = []
        checks: list[tuple[bool, str]] = [
            (self.clock in ("wall", "event"), "COVERWATCH_CLOCK must be `wall` or `event`"),
            (0 < self.web_port < 65536, "COVERWATCH_WEB_PORT must be in 1..65535"),
            (self.batch_size >= 1, "COVERWATCH_BATCH_SIZE must be >= 1"),
            (self.batch_wait_s > 0, "COVERWATCH_BATCH_WAIT_S must be > 0"),
            (self.join_wait_s >= 0, "COVERWATCH_JOIN_WAIT_S must be >= 0"),
            (
                1 <= self.presence_processes <= 4,
                "COVERWATCH_PRESENCE_PROCESSES must be 1 to 4 (the pings partitions)",
            ),
            (self.fetch_max_wait_ms >= 0, "COVERWATCH_FETCH_MAX_WAIT_MS must be >= 0"),
            (self.max_message_bytes >= 1024, "COVERWATCH_MAX_MESSAGE_BYTES must be >= 1024"),
            (self.allowed_lateness_s >= 0, "COVERWATCH_ALLOWED_LATENESS_S must be >= 0"),
            (self.max_gap_s > 0, "COVERWATCH_MAX_GAP_S must be > 0"),
            (0 <= self.replay_hours <= 24, "COVERWATCH_REPLAY_HOURS must be in 0..24"),
            (
                0.0 <= self.feed_degraded_share < 1.0,
                "COVERWATCH_FEED_DEGRADED_SHARE must be in [0, 1)",
            ),
            (self.ingest_lag_bound_s > 0, "COVERWATCH_INGEST_LAG_BOUND_S must be > 0"),
            (self.archive_fix_every_s >= 0, "COVERWATCH_ARCHIVE_FIX_EVERY_S must be >= 0"),
            (
                self.archive_block_records >= 1,
                "COVERWATCH_ARCHIVE_BLOCK_RECORDS must be >= 1",
            ),
            (self.archive_flush_s > 0, "COVERWATCH_ARCHIVE_FLUSH_S must be > 0"),
            (
                self.archive_retention_days >= 0,
                "COVERWATCH_ARCHIVE_RETENTION_DAYS must be >= 0",
            ),
            (
                self.archive_url == "" or self.archive_url.startswith(("file:///", "s3://")),
                "COVERWATCH_ARCHIVE_URL must be empty, file:///absolute/path or s3://bucket/prefix",
            ),
            (
                self.qualifying_s > self.drive_through_s,
                "COVERWATCH_QUALIFYING_S must exceed COVERWATCH_DRIVE_THROUGH_S",
            ),
            (self.exit_buffer_m >= 0, "COVERWATCH_EXIT_BUFFER_M must be >= 0"),
            (self.stuck_fixes >= 2, "COVERWATCH_STUCK_FIXES must be >= 2"),
            (self.stuck_s >= 0, "COVERWATCH_STUCK_S must be >= 0"),
            (self.session_timeout_s >= 6, "COVERWATCH_SESSION_TIMEOUT_S must be >= 6"),
            (
                self.log_level in ("debug", "info", "warn", "error"),
                "COVERWATCH_LOG_LEVEL must be debug, info, warn or error",
            ),
            (
                _KEY_PREFIX.fullmatch(self.key_prefix) is not None,
                "COVERWATCH_KEY_PREFIX must match [A-Za-z0-9_.-]+",
            ),
            (
                _TOPIC_PREFIX.fullmatch(self.topic_prefix) is not None,
                "COVERWATCH_TOPIC_PREFIX must match [A-Za-z0-9_.-]*",
            ),
        ]
        found.extend(message for ok, message in checks if not ok)
        found.extend(redis_url_problems(self.redis_url))
        found.extend(bootstrap_problems(self.kafka_bootstrap))
        found.extend(unit_problems(self.metric_units))
        found.extend(report_problems(self))
        if not _zone_exists(self.timezone):
            found.append(f"COVERWATCH_TIMEZONE: unknown time zone {self.timezone!r}")
        return found

    def topic(self, name: str) -> str:
        """The broker topic name for the contract topic ``name``."""
        return f"{self.topic_prefix}{name}"

    def to_env(self) -> dict[str, str]:
        """These settings as environment variables (to configure a child process)."""
        return {spec.metadata["env"]: str(getattr(self, spec.name)) for spec in fields(self)}


def parse_tokens(spec: str) -> dict[str, str]:
    """``name=token[,name=token]`` as token -> name."""
    tokens: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, token = item.partition("=")
        tokens[token.strip()] = name.strip()
    return tokens


def parse_units(spec: str) -> frozenset[str]:
    """``unit[,unit]``: the units the area metrics label by name."""
    return frozenset(filter(None, (part.strip() for part in spec.split(","))))


def unit_problems(spec: str) -> list[str]:
    """A unit list too long for a bounded label, or with a unit a label value cannot hold as
    written (the area exposition does not escape)."""
    units = parse_units(spec)
    found = []
    if len(units) > MAX_METRIC_UNITS:
        found.append(f"COVERWATCH_METRIC_UNITS: at most {MAX_METRIC_UNITS} units")
    if any(_UNSAFE_LABEL.search(unit) or len(unit) > 128 for unit in units):
        found.append(
            'COVERWATCH_METRIC_UNITS: units are at most 128 characters without ", \\ or a '
            "line break"
        )
    if "other" in units:
        found.append("COVERWATCH_METRIC_UNITS: `other` is the label of every unit not listed")
    return found


def redis_url_problems(url: str) -> list[str]:
    """What is wrong with a Redis URL (``redis://[[user]:password@]host[:port][/db]``,
    ``rediss://`` the same over TLS, ``unix:///path/to/socket``, or ``redis+cluster://host:port``
    and ``rediss+cluster://``: any node of a Redis Cluster). The value is not repeated: it may
    hold a password."""
    shape = (
        "COVERWATCH_REDIS_URL must be redis://host:port/db, rediss://host:port/db, unix:///path "
        "or redis+cluster://host:port"
    )
    parsed = urlparse(url)
    if parsed.scheme == "unix":
        return [] if parsed.path else [f"{shape} (the unix URL has no path)"]
    if parsed.scheme not in ("redis", "rediss", "redis+cluster", "rediss+cluster"):
        return [f"{shape} (its scheme is {parsed.scheme or 'missing'})"]
    if parsed.scheme.endswith("+cluster") and parsed.path.strip("/") not in ("", "0"):
        return [f"{shape} (a Redis Cluster has database 0 alone)"]
    try:
        port = parsed.port
    except ValueError:
        return [f"{shape} (its port is not a number in 0..65535)"]
    found = []
    if not parsed.hostname:
        found.append(f"{shape} (it has no host)")
    if port == 0:
        found.append(f"{shape} (its port is 0)")
    database = parsed.path.strip("/")
    if database and not database.isdigit():
        found.append(f"{shape} (its database {database!r} is not a number)")
    return found


def bootstrap_problems(bootstrap: str) -> list[str]:
    """What is wrong with a bootstrap server list (``host:port[,host:port...]``)."""
    found = []
    servers = [part.strip() for part in bootstrap.split(",")]
    for server in servers:
        host, _, port = server.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            found.append(
                f"COVERWATCH_KAFKA_BOOTSTRAP must be host:port[,host:port...] ({server!r} is not)"
            )
    return found


def report_problems(settings: Settings) -> list[str]:
    """Daily report settings out of range, or a baseline that is not two ordered dates."""
    found = []
    if not 0 <= settings.report_hour <= 23:
        found.append("COVERWATCH_REPORT_HOUR must be in 0..23")
    if not 1 <= settings.report_period_days <= 366:
        found.append("COVERWATCH_REPORT_PERIOD_DAYS must be in 1..366")
    if settings.report_catch_up_days < 1:
        found.append("COVERWATCH_REPORT_CATCH_UP_DAYS must be >= 1")
    try:
        baseline = report_baseline_days(settings)
    except ValueError:
        found.append("COVERWATCH_REPORT_BASELINE_FROM/TO must be dates (YYYY-MM-DD)")
    else:
        given = (settings.report_baseline_from, settings.report_baseline_to)
        if any(given) and (baseline is None or baseline[0] > baseline[1]):
            found.append(
                "COVERWATCH_REPORT_BASELINE_FROM and _TO must both be set, FROM not after TO"
            )
    return found


def report_baseline_days(settings: Settings) -> tuple[date, date] | None:
    """The fixed baseline of the daily reports, or None (the days before each period).
    Raises ValueError on a malformed date."""
    if not settings.report_baseline_from or not settings.report_baseline_to:
        return None
    return (
        date.fromisoformat(settings.report_baseline_from),
        date.fromisoformat(settings.report_baseline_to),
    )


def reports_location(settings: Settings) -> Path | None:
    """Where the daily reports are written and served from: the configured directory, else
    ``reports`` beside a ``file://`` archive; None (no reports) without an archive or beside an
    object-store one."""
    if not settings.archive_url:
        return None
    if settings.reports_dir:
        return Path(settings.reports_dir)
    parsed = urlparse(settings.archive_url)
    if parsed.scheme != "file":
        return None
    return Path(unquote(parsed.path)).parent / "reports"


def token_problems(settings: Settings) -> list[str]:
    """Malformed token lists, or tokens too short to be secret."""
    found = []
    for env, spec in (
        ("COVERWATCH_VIEWER_TOKENS", settings.viewer_tokens),
        ("COVERWATCH_SUPERVISOR_TOKENS", settings.supervisor_tokens),
    ):
        for item in filter(None, (part.strip() for part in spec.split(","))):
            name, equals, token = item.partition("=")
            if not equals or not name.strip() or len(token.strip()) < 12:
                found.append(f"{env}: entries are name=token with a token of >= 12 characters")
                break
    return found


def documentation() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting, in declaration order (for the README)."""
    return [
        (spec.metadata["env"], str(spec.default), spec.metadata["doc"]) for spec in fields(Settings)
    ]


def _zone_exists(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _parse_int(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise ValueError("not a whole number") from None


def _parse_float(raw: str) -> float:
    try:
        return float(raw)
    except ValueError:
        raise ValueError("not a number") from None


_PARSERS: dict[type, Callable[[str], Any]] = {str: str, int: _parse_int, float: _parse_float}
_KEY_PREFIX = re.compile(r"[A-Za-z0-9_.-]+")
_UNSAFE_LABEL = re.compile(r'["\\\n\r]')
_TOPIC_PREFIX = re.compile(r"[A-Za-z0-9_.-]*")
