"""The Redis key layout as code: every key family the service writes, the one source of truth.

Each :class:`KeyFamily` is a pattern with placeholders in angle brackets, its Redis type, what it
holds, who writes it and how long it is kept. The state modules build their keys from these
families (:meth:`KeyFamily.of`), ``docs/redis-keys.md`` is generated from them
(``python -m streams.state > docs/redis-keys.md``; a unit test compares it), and an
integration test checks every key a real run leaves against :func:`undocumented`.

Every key is ``<prefix>:{<tag>}:<suffix>``: ``<prefix>`` is ``COVERWATCH_KEY_PREFIX`` and the
``{...}`` part a Redis Cluster hash tag, so every Lua call touches one slot. The tag of state
derived from one partition of a source topic is ``<topic>.<partition>`` (a *slot*). The sources
whose partitions all write one shared family (:data:`SHARED_TAGS`) keep each partition's
watermark under that family's tag instead: a partition's changes and its watermark are then
still written by one Lua call in one slot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from streams import topics

PLACEHOLDER = re.compile(r"<([a-z_ ]+)>")

PINGS_SLOT = f"{topics.PINGS}.<partition>"
INCIDENTS_SLOT = f"{topics.INCIDENTS}.<partition>"
STOPSEARCH_SLOT = f"{topics.STOPSEARCH}.<partition>"
DEMAND_SLOT = "<source>.<partition>"
"""The slot of a demand source: ``cad.incidents``, ``crimes.recorded`` or ``stopsearch.events``."""

SHARED_TAGS: dict[str, str] = {
    topics.ROSTER: "directory",
    topics.AREAS: "areas",
    topics.CLOCK_TICKS: "clock",
    "coverage": "coverage",
}
"""source -> the tag of the one family all its partitions write (the roster, the areas, the
event clock, the coverage leader's records); its partitions' slots are ``{tag}:<source>.<n>``."""

VISITS_KEPT = "3 days (``VISIT_DAYS_KEPT``, EXPIRE on every write)"
QUALIFYING_KEPT = "2 days before the area's latest end (``QUALIFYING_ENDS_KEPT_S``)"


@dataclass(frozen=True)
class KeyFamily:
    """One family of keys: ``<prefix>:{tag}:suffix`` with ``<placeholders>``."""

    tag: str
    suffix: str
    kind: str
    holds: str
    writer: str
    kept: str = "for ever (until ``coverwatch rebuild``)"
    _tail: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_tail", ":" + PLACEHOLDER.sub("{}", self.suffix))

    @property
    def redis_type(self) -> str:
        """What Redis's TYPE answers for a key of this family (a GEO set is a zset)."""
        return "zset" if self.kind == "geo (zset)" else self.kind

    @property
    def pattern(self) -> str:
        """The whole key pattern, ``<prefix>`` included."""
        return f"<prefix>:{{{self.tag}}}:{self.suffix}"

    def of(self, slot: str, *values: object) -> str:
        """This family's key in ``slot`` (``<prefix>:{tag}``, from :meth:`Keys.slot`), with the
        suffix's placeholders filled by ``values`` in order."""
        return slot + (self._tail.format(*values) if values else self._tail)

    def matcher(self, prefix: str) -> re.Pattern[str]:
        """A regular expression that matches this family's keys under ``prefix``."""
        parts = PLACEHOLDER.split(f"{{{self.tag}}}:{self.suffix}")
        literal = "".join(re.escape(p) if i % 2 == 0 else ".+" for i, p in enumerate(parts))
        return re.compile(re.escape(prefix) + ":" + literal)


class Keys:
    """Slots and keys under one deployment's prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def slot(self, tag: str) -> str:
        """``<prefix>:{tag}``: the part of a key before its family's suffix."""
        return f"{self.prefix}:{{{tag}}}"

    def partition_slot(self, source: str, partition: int) -> str:
        """The slot of everything derived from one partition of ``source`` (of its watermark
        alone, under the shared family's tag, for a source of :data:`SHARED_TAGS`)."""
        shared = SHARED_TAGS.get(source)
        if shared is not None:
            return f"{self.prefix}:{{{shared}}}:{source}.{partition}"
        return f"{self.prefix}:{{{source}.{partition}}}"

    def former_partition_slot(self, source: str, partition: int) -> str:
        """The slot a partition of a :data:`SHARED_TAGS` source had before its watermark moved
        under the shared family's tag (:meth:`~streams.state.store.Store.move_watermarks`)."""
        return f"{self.prefix}:{{{source}.{partition}}}"

    def key(self, family: KeyFamily, *values: object) -> str:
        """A key of a family whose tag has no placeholder."""
        return family.of(self.slot(family.tag), *values)


@dataclass(frozen=True)
class WindowedFamily:
    """The keys of one rolling-window family (written by ``win_add`` and ``win_expire`` of
    :class:`~streams.state.changes.Changes`): a window's sum is the total less what has left it."""

    name: str
    minute: KeyFamily
    minutes: KeyFamily
    total: KeyFamily
    out: KeyFamily
    through: KeyFamily
    legacy: KeyFamily

    def of(self, slot: str) -> str:
        """The family's name in ``slot``, as the Lua ops take it (they add the suffixes)."""
        return f"{slot}:{self.name}"

    @property
    def families(self) -> tuple[KeyFamily, ...]:
        """Every key family of the window family."""
        return (self.minute, self.minutes, self.total, self.out, self.through, self.legacy)


def _windowed(tag: str, name: str, what: str, writer: str) -> WindowedFamily:
    return WindowedFamily(
        name,
        KeyFamily(
            tag,
            f"{name}:m:<minute>",
            "hash",
            f"{what} added in one minute, by field",
            writer,
            "until the minute leaves the longest window",
        ),
        KeyFamily(
            tag,
            f"{name}:minutes",
            "zset",
            f"the minutes with a bucket of {name}",
            writer,
            "members until they leave the longest window",
        ),
        KeyFamily(tag, f"{name}:total", "hash", f"field -> {what} ever added", writer),
        KeyFamily(
            tag, f"{name}:out", "hash", f"`<window>|<field>` -> {what} that left the window", writer
        ),
        KeyFamily(tag, f"{name}:through", "hash", "window -> last minute taken out of it", writer),
        KeyFamily(
            tag,
            f"{name}:win",
            "hash",
            "running window sums (`<window>|<field>`) of the layout before total - out: "
            "converted and deleted once at start (``streams.state.windows``)",
            "none now (an earlier version)",
            "until that upgrade",
        ),
    )


PRESENCE = "presence agent (presence process)"
DEMAND_WRITERS = "incidents, crimes and stop-search agents"
COVERAGE = "coverage leader"

WATERMARK = KeyFamily(
    "<source>.<partition>",
    "wm",
    "string",
    "offset watermark of the partition: offsets at or below it are applied",
    "every agent, in the Lua call of its changes",
)
SHARED_WATERMARK = KeyFamily(
    "<tag>",
    "<source>.<partition>:wm",
    "string",
    "offset watermark of a partition of a source whose partitions all write one family "
    "(``SHARED_TAGS``: the roster under `directory`, the areas under `areas`, clock ticks under "
    "`clock`, the coverage leader under `coverage`): in that family's slot",
    "roster, areas and clock agents, coverage leader, in the Lua call of their changes",
)
OWNER = KeyFamily(
    "<source>.<partition>",
    "owner",
    "string",
    "int bumped each time a worker's pings reader is given the partition or lets it go; a "
    "commit prepared under an older one is refused (the fence of a worker the partition was "
    "taken from)",
    "pings reader, when the group assigns it the partition and when it is revoked",
)
ROSTER = KeyFamily("directory", "roster", "hash", "issi -> roster entry JSON", "roster agent")
ROSTER_HISTORY = KeyFamily(
    "directory",
    "roster_history",
    "hash",
    "issi -> the radio's latest roster versions: lines ``since<TAB>entry JSON`` sorted by since "
    "(empty: from the beginning), at most ``ROSTER_VERSIONS_KEPT``",
    "roster agent",
)
ROSTER_VERSION = KeyFamily(
    "directory", "roster_version", "string", "int bumped on every roster change", "roster agent"
)
ON_DUTY = KeyFamily(
    "directory", "on_duty", "set", "the radios whose officer is on duty", "roster agent"
)
AREA_FEATURES = KeyFamily(
    "areas", "features", "hash", "area_id -> GeoJSON Feature JSON", "areas agent"
)
AREA_VERSION = KeyFamily(
    "areas", "version", "string", "int bumped on every area change", "areas agent"
)
AREA_RINGS = KeyFamily(
    "areas",
    "rings",
    "hash",
    "ring id -> GeoJSON Feature JSON (displacement rings: drawn on the live page, not tracked)",
    "areas agent",
)
CLOCK = KeyFamily(
    "clock",
    "watermark",
    "string",
    "the event clock: highest event time seen (event mode)",
    "clock agent",
)

PRESENT = KeyFamily(PINGS_SLOT, "present", "hash", '"area_id|issi" -> "role|mode|unit"', PRESENCE)
DOSE = _windowed(PINGS_SLOT, "dose", "officer-seconds", PRESENCE)
PATROL_KEPT = "2 days (``PATROL_KEPT_S``, EXPIRE on every write)"
PATROL_STEPS = KeyFamily(
    PINGS_SLOT,
    "patrol:m:<minute>",
    "hash",
    '"area_id|offset ms" -> change in officers present there (``streams.domain.patrol``); a '
    "field whose changes sum to zero is removed",
    PRESENCE,
    PATROL_KEPT,
)
PATROL_TOUCHED = KeyFamily(
    PINGS_SLOT,
    "patrol:touched",
    "hash",
    "minute -> writes of its patrol steps (the leader reads again the minutes that changed)",
    PRESENCE,
    "fields of minutes older than 2 days are taken out by the coverage leader",
)
VISITS = KeyFamily(
    PINGS_SLOT,
    "visits:<day>",
    "hash",
    "visit_id -> published visit JSON of a local day",
    PRESENCE,
    VISITS_KEPT,
)
VISIT_PARTS = KeyFamily(
    PINGS_SLOT,
    "visit_parts:<day>",
    "hash",
    "visit_id -> the visit's part in the day summary (``streams.domain.dayvisits``)",
    PRESENCE,
    VISITS_KEPT,
)
VISIT_DAY = KeyFamily(
    PINGS_SLOT, "vday:<day>", "hash", "the day's visits summarised per area", PRESENCE, VISITS_KEPT
)
TRACKS = KeyFamily(
    PINGS_SLOT, "tracks", "hash", "issi -> track JSON", PRESENCE, "until the radio is forgotten"
)
GEO = KeyFamily(
    PINGS_SLOT,
    "geo",
    "geo (zset)",
    "issi at its latest accepted fix",
    PRESENCE,
    "until the radio is forgotten",
)
LAST_FIX = KeyFamily(
    PINGS_SLOT,
    "lastfix",
    "hash",
    "issi -> what is shown of its latest fix",
    PRESENCE,
    "until the radio is forgotten",
)
FEED = KeyFamily(PINGS_SLOT, "feed", "string", "time of the latest accepted fix", PRESENCE)
PINGS_PROGRESS = KeyFamily(
    PINGS_SLOT, "progress", "string", "the partition's event-time progress", PRESENCE
)
PINGS_EVENTS = KeyFamily(
    PINGS_SLOT, "events", "hash", '"first" -> event time of the partition\'s first record', PRESENCE
)
QUALIFYING_ENDS = KeyFamily(
    PINGS_SLOT, "qends:<area_id>", "zset", "qualifying visit ids by end", PRESENCE, QUALIFYING_KEPT
)
LAST_QUALIFYING = KeyFamily(
    PINGS_SLOT, "lastq", "hash", "area_id -> latest qualifying visit end", PRESENCE
)
VISIT_ENDS = KeyFamily(
    PINGS_SLOT,
    "vends:<area_id>",
    "zset",
    "visit ids by end (+inf while open)",
    PRESENCE,
    QUALIFYING_KEPT,
)
VISIT_STARTS = KeyFamily(
    PINGS_SLOT, "vstarts:<area_id>", "zset", "visit ids by start", PRESENCE, QUALIFYING_KEPT
)
VISIT_LAST = KeyFamily(PINGS_SLOT, "vlast", "zset", "area ids by latest closed visit end", PRESENCE)
TRAIL = KeyFamily(
    PINGS_SLOT,
    "trail:<minute>",
    "hash",
    "issi -> ``ms into the minute,lat,lon,role,mode`` of its last accepted fix in the minute "
    "(whole minutes since the epoch, event time): the time control's replay "
    "(``streams.domain.replay``), about 110 B a point",
    PRESENCE,
    "``COVERWATCH_REPLAY_HOURS`` and 10 min, 3 h 10 min by default (EXPIRE on every write); "
    "none written when it is 0",
)
REPORTING = KeyFamily(
    PINGS_SLOT,
    "reporting:<minute>",
    "set",
    "the radios on the roster with an accepted fix in the minute (whole minutes since the "
    "epoch, event time): who reported before a judged instant (``streams.domain.feedhealth``)",
    PRESENCE,
    "``REPORTING_KEPT_S`` (EXPIRE on every write)",
)

INCIDENTS = KeyFamily(
    INCIDENTS_SLOT, "incidents", "hash", "incident_id -> incident state JSON", "incidents agent"
)
CLOSED = KeyFamily(
    INCIDENTS_SLOT,
    "closed",
    "zset",
    "closed incident ids by close time",
    "incidents agent",
    "``CLOSED_INCIDENTS_KEPT_S``",
)
OPEN_INCIDENTS = KeyFamily(
    INCIDENTS_SLOT,
    "open_incidents",
    "hash",
    "incident_id -> what the live view shows of an open incident",
    "incidents agent",
    "while the incident is open",
)
OPEN_COUNTS = KeyFamily(
    INCIDENTS_SLOT, "open", "hash", '"area_id|grade" -> open incidents', "incidents agent"
)
COUNTED = KeyFamily(
    INCIDENTS_SLOT,
    "counted",
    "hash",
    'incident_id -> the "area_id|grade" counts it is in',
    "incidents agent",
)
OPEN_REBUILT = KeyFamily(
    INCIDENTS_SLOT,
    "open_rebuilt",
    "string",
    "marker: the open counts were rebuilt per incident once",
    "incidents agent",
)
RESPONSE = KeyFamily(
    INCIDENTS_SLOT,
    "response",
    "zset",
    '"incident_id|area_id|seconds" response samples by arrival time',
    "incidents agent",
    "``RESPONSE_SAMPLES_KEPT_S``",
)
ASSIGNED = KeyFamily(
    INCIDENTS_SLOT,
    "assigned",
    "hash",
    '"callsign|incident_id" -> {"areas": [...], "since": ts, "until": ts or null, "category": '
    "str or null} (a JSON list of area ids, stored by an earlier version: from the beginning, "
    "still open)",
    "incidents agent",
    "closed ones until ``COVERWATCH_MAX_AGE_S`` before the clock",
)
ASSIGNED_CLOSED = KeyFamily(
    INCIDENTS_SLOT,
    "assigned_closed",
    "zset",
    'closed "callsign|incident_id" by end',
    "incidents agent",
    "until ``COVERWATCH_MAX_AGE_S`` before the clock",
)
ASSIGNED_VERSION = KeyFamily(
    INCIDENTS_SLOT,
    "assigned_version",
    "string",
    "int bumped on every change of ``assigned``",
    "incidents agent",
)
INCIDENTS_PROGRESS = KeyFamily(
    INCIDENTS_SLOT,
    "progress",
    "string",
    "latest ``ts`` of the partition's incidents and heartbeats, written with the assignments it "
    "covers (the pings wait for it); 0 after a rebuild with records not read again yet",
    "incidents agent",
)
SEARCHED = KeyFamily(
    STOPSEARCH_SLOT,
    "searched",
    "hash",
    '"callsign|id|ts" -> {"ts": ts, "areas": [...]}: stop-searches by callsign, joined with the '
    "pings of that callsign's radio (``stop_search`` visits and dose)",
    "stop-search agent",
    "until ``COVERWATCH_MAX_AGE_S`` before the clock",
)
SEARCHED_TIMES = KeyFamily(
    STOPSEARCH_SLOT,
    "searched_times",
    "zset",
    '"callsign|id|ts" by ``ts``',
    "stop-search agent",
    "until ``COVERWATCH_MAX_AGE_S`` before the clock",
)
SEARCHED_VERSION = KeyFamily(
    STOPSEARCH_SLOT,
    "searched_version",
    "string",
    "int bumped on every change of ``searched``",
    "stop-search agent",
)
SEARCHED_PROGRESS = KeyFamily(
    STOPSEARCH_SLOT,
    "progress",
    "string",
    "latest ``ts`` of the partition's stop-searches and heartbeats, written with the "
    "stop-searches it covers (the pings wait for it); 0 after a rebuild with records not read "
    "again yet",
    "stop-search agent",
)
PLACES = KeyFamily(
    DEMAND_SLOT,
    "places",
    "hash",
    '"<id>|<ts>" -> {"kind", "lat", "lon", "ts", "what", "outcome"}: where a crime or '
    "stop-search was (no callsign), for the live map's layers",
    "crimes and stop-search agents",
    "until ``COVERWATCH_MAX_AGE_S`` before the clock",
)
PLACES_TIMES = KeyFamily(
    DEMAND_SLOT,
    "places_times",
    "zset",
    '"<id>|<ts>" by ``ts``',
    "crimes and stop-search agents",
    "until ``COVERWATCH_MAX_AGE_S`` before the clock",
)
PLACES_VERSION = KeyFamily(
    DEMAND_SLOT,
    "places_version",
    "string",
    "int bumped on every change of ``places``",
    "crimes and stop-search agents",
)
DEMAND = _windowed(DEMAND_SLOT, "demand", "demand (count or harm)", DEMAND_WRITERS)
SEEN = KeyFamily(
    DEMAND_SLOT,
    "seen:<id>|<ts>",
    "string",
    "marker: this crime or stop-search was counted (content idempotency)",
    "crimes and stop-search agents",
    "``SEEN_TTL_S`` (SET EX)",
)

COVERAGE_STATUS = KeyFamily(
    "coverage", "status", "hash", "area_id -> coverage status JSON", COVERAGE
)
COVERAGE_SINCE = KeyFamily("coverage", "since", "hash", "area_id -> monitoring start", COVERAGE)
COVERAGE_JUDGED = KeyFamily(
    "coverage", "judged", "string", "last instant judged on the event clock", COVERAGE
)
COVERAGE_ALERTS = KeyFamily(
    "coverage", "alerts", "list", "alert events JSON, newest first", COVERAGE, "the newest 1,000"
)
COVERAGE_CHANGES = KeyFamily(
    "coverage",
    "changes:<day>",
    "list",
    "a local day's coverage state changes JSON, newest first",
    COVERAGE,
    "the newest 20,000; 3 days (``VISIT_DAYS_KEPT``)",
)
AREA_VIEWS = KeyFamily(
    "coverage",
    "views",
    "hash",
    "area_id -> the area's last published `area.snapshots` value JSON (what the API serves)",
    COVERAGE,
)
LEADER = KeyFamily(
    "coverage",
    "leader",
    "string",
    "worker id of the coverage leader",
    "every worker (``lead.lua``)",
    "the lock's TTL (PX)",
)
AUDIT = KeyFamily(
    "audit",
    "log",
    "list",
    "officer-level reads (who, what, when) JSON",
    "web API",
    "for ever, kept by ``coverwatch rebuild``",
)
ALERT_ACTIONS = KeyFamily(
    "audit",
    "alert-actions:<alert_id>",
    "list",
    "a supervisor's actions on one alert (acknowledged, assigned, noted) JSON, oldest first",
    "web API",
    "7 days after the last action (``ALERT_ACTIONS_KEPT_S``, EXPIRE on every write); kept by "
    "``coverwatch rebuild``",
)
EVENTS = KeyFamily(
    "events",
    "live",
    "pub/sub channel",
    "live events (ready SSE messages) for every worker's SSE streams",
    COVERAGE,
    "not stored",
)
EPOCH = KeyFamily(
    "meta",
    "epoch",
    "string",
    "the store's epoch (``streams.domain.epoch``)",
    "first worker of a deployment, ``coverwatch rebuild``",
    "once per life of the store",
)

LAYOUT: tuple[KeyFamily, ...] = (
    WATERMARK,
    SHARED_WATERMARK,
    OWNER,
    ROSTER,
    ROSTER_HISTORY,
    ROSTER_VERSION,
    ON_DUTY,
    AREA_FEATURES,
    AREA_VERSION,
    AREA_RINGS,
    CLOCK,
    PRESENT,
    *DOSE.families,
    PATROL_STEPS,
    PATROL_TOUCHED,
    VISITS,
    VISIT_PARTS,
    VISIT_DAY,
    TRACKS,
    GEO,
    LAST_FIX,
    FEED,
    PINGS_PROGRESS,
    PINGS_EVENTS,
    QUALIFYING_ENDS,
    LAST_QUALIFYING,
    VISIT_ENDS,
    VISIT_STARTS,
    VISIT_LAST,
    REPORTING,
    TRAIL,
    INCIDENTS,
    CLOSED,
    OPEN_INCIDENTS,
    OPEN_COUNTS,
    COUNTED,
    OPEN_REBUILT,
    RESPONSE,
    ASSIGNED,
    ASSIGNED_CLOSED,
    ASSIGNED_VERSION,
    INCIDENTS_PROGRESS,
    SEARCHED,
    SEARCHED_TIMES,
    SEARCHED_VERSION,
    SEARCHED_PROGRESS,
    PLACES,
    PLACES_TIMES,
    PLACES_VERSION,
    *DEMAND.families,
    SEEN,
    COVERAGE_STATUS,
    COVERAGE_SINCE,
    COVERAGE_JUDGED,
    COVERAGE_ALERTS,
    COVERAGE_CHANGES,
    AREA_VIEWS,
    LEADER,
    AUDIT,
    ALERT_ACTIONS,
    EVENTS,
    EPOCH,
)
"""Every key family, in the order of the generated table."""


def families_of(keys: Iterable[str], prefix: str) -> dict[str, KeyFamily | None]:
    """key -> the family of :data:`LAYOUT` it belongs to under ``prefix`` (None: none)."""
    matchers = [(family.matcher(prefix), family) for family in LAYOUT]
    return {
        key: next((family for matcher, family in matchers if matcher.fullmatch(key)), None)
        for key in keys
    }


def undocumented(keys: Iterable[str], prefix: str) -> list[str]:
    """The keys under ``prefix`` that match no family of :data:`LAYOUT`."""
    return sorted(key for key, family in families_of(keys, prefix).items() if family is None)


def markdown() -> str:
    """``docs/redis-keys.md``: the layout as a table."""
    lines = [
        "# Redis keys",
        "",
        "Generated from `streams/state/keys.py` by `python -m streams.state > "
        "docs/redis-keys.md`; a unit test checks that they agree. Every key is "
        "`<prefix>:{<tag>}:<suffix>`: `<prefix>` is `COVERWATCH_KEY_PREFIX`, and the `{...}` "
        "part a Redis Cluster hash tag, so every Lua call touches one slot.",
        "",
        "| key | type | holds | written by | kept |",
        "|---|---|---|---|---|",
    ]
    for family in LAYOUT:
        cells = (f"`{family.pattern}`", family.kind, family.holds, family.writer, family.kept)
        lines.append("| " + " | ".join(_cell(cell) for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """A table cell: code spans in single backticks, pipes escaped."""
    return text.replace("``", "`").replace("|", "\\|")
