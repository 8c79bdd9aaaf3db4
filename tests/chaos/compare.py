"""What a run ends with, in a canonical form, and a short readable account of how two differ.

:func:`final_state` builds a :class:`FinalState` from what a run left behind: the values on the
output topics (``presence.visits``, ``coverage.alerts``, ``deadletter``) and the worker's state
in Redis (dose, coverage statuses, incidents, demand), read by the harness. It is pure, so the
canonical form and :func:`diff` are tested without a broker.

What is compared, and how
- visits: every visit id with its start, end, seconds, activity and status at its highest
  revision on ``presence.visits``;
- dose: officer-seconds since the start and in every window, per area and split
  (``area|role|mode|activity|unit[|inferred]``), summed over partitions; equal within float
  rounding (:data:`ABS_TOL`); and patrol-seconds per area and minute (``patrol|area|minute``),
  measured from the patrol steps of every partition together (:mod:`streams.domain.patrol`);
- coverage: every area's stored status (state, why it is unknown, severity, since when, its
  limit, its active alert), without ``elapsed_s``: the gap's age at the status's last
  evaluation, which an unchanged area gets only every 30 s of wall time (the gap start it is
  measured from is compared through the active alert and the alert ids);
- alerts: the alert ids on ``coverage.alerts``;
- incidents: every incident's stored state; demand: totals since the start, window sums and
  open incidents per area, measure and label (float rounding as for dose);
- output topics as sets, deduplicated by identity (at-least-once delivery may repeat a record):
  ``presence.visits`` by (visit id, revision), ``coverage.alerts`` by (alert id, event,
  severity), ``deadletter`` by the source message. Two records with the same identity but other
  content count as a difference. ``deadletter`` values are compared without ``ts`` (the wall
  time of the rejection) and name their source message by its id in the recording instead of
  its offset (injected messages shift offsets). ``area.snapshots`` is not compared: snapshots
  are published on a wall-time cadence (at least once a minute), so their number depends on the
  run's speed by contract; the states they show are compared through Redis.
- the time control's sources (:mod:`streams.domain.replay`): every trail point (radio, minute,
  fix) and every coverage state change (area, state, instant; as a set: a change stored twice
  replays the same), exactly;
- the archive (:class:`ArchiveState`, docs/archive.md), read once the run has caught up and
  each day is compacted: the rows of the tables fed by input topics (``fixes``,
  ``incident_events``, ``crimes``, ``stop_searches``, ``areas``, ``roster``) by the id in the
  recording of the record each came from, so a lost, duplicated or changed row is named (a
  row's source offset is replaced by that id: injected messages shift offsets); when both runs
  published every record at the same offsets, those tables' files must also be byte-identical.
  The ``visits`` and ``alerts`` tables are fed by output topics, which may carry re-published
  revisions under faults, so they are compared through the facts
  (:func:`streams.evaluation.facts.load_facts` over the day): every row of every frame, as
  multisets, exactly: the facts are a function of the archived rows to the last bit (every
  query of ``streams.evaluation.events`` ends in an ``ORDER BY``, so pandas sums a group in one
  order whatever DuckDB's threads do).
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Final

import orjson

from streams import topics
from streams.domain.patrol import MinuteKey, Steps, add_steps, patrol_by_minute
from streams.state import window_sums

ABS_TOL: Final = 1e-6
REL_TOL: Final = 1e-9
EXAMPLES: Final = 3
DOSE_WINDOWS: Final = (900, 3600, 28800, 86400)
DEMAND_WINDOWS: Final = (3600, 86400)
INPUT_TABLES: Final = ("fixes", "incident_events", "crimes", "stop_searches", "areas", "roster")
"""The archive tables fed by input topics, which every run publishes alike."""
SOURCE_COLUMNS: Final = ("source_topic", "source_partition", "source_offset")

Identity = tuple[object, ...]


@dataclass(frozen=True, slots=True)
class Visit:
    """A visit at its highest revision."""

    area_id: str
    start: str
    end: str | None
    seconds: float
    activity: str
    status: str
    revision: int


@dataclass(frozen=True, slots=True)
class RedisFigures:
    """What the harness reads from Redis, raw: hashes as str -> str, merged over partitions
    where the key layout splits them (dose and demand hashes are kept per partition, since
    a window sum needs its own partition's totals and outs)."""

    dose: Sequence[tuple[Mapping[str, str], Mapping[str, str]]]
    """(totals, outs) per ``airwave.pings`` partition."""
    demand: Sequence[tuple[Mapping[str, str], Mapping[str, str]]]
    """(totals, outs) per demand source partition."""
    open_incidents: Sequence[Mapping[str, str]]
    coverage: Mapping[str, str]
    incidents: Mapping[str, str]
    clock: str | None
    patrol: Sequence[tuple[int, Mapping[str, str]]] = ()
    """(minute, patrol steps ``area|offset`` -> delta) per ``airwave.pings`` partition's
    minute."""
    trail: Sequence[tuple[int, Mapping[str, str]]] = ()
    """(minute, radio -> its trail point) per ``airwave.pings`` partition's trail minute."""
    state_changes: Sequence[str] = ()
    """The coverage state changes of every day kept (JSON, as stored)."""


@dataclass(frozen=True, slots=True)
class ArchiveState:
    """A run's archive in canonical form (see the module doc)."""

    rows: Mapping[str, Mapping[str, tuple[bytes, ...]]]
    """input table -> source record id -> its rows' values without the source columns (one
    row, unless the archive duplicated it)."""
    files: Mapping[str, str]
    """input table's file (path under the root) -> SHA-256 of its bytes."""
    layout: str
    """A digest of where every record was published: files compare byte for byte only
    between runs with the same layout."""
    facts: Mapping[str, tuple[bytes, ...]]
    """facts frame -> its rows, canonical and sorted."""

    @property
    def row_count(self) -> int:
        return sum(len(v) for by_id in self.rows.values() for v in by_id.values())


@dataclass(frozen=True, slots=True)
class FinalState:
    """A run's outcome in canonical form; two runs agree when :func:`diff` finds nothing."""

    visits: Mapping[str, Visit]
    dose: Mapping[str, float]
    """``total|area|split`` and ``<window>|area|split`` -> officer-seconds."""
    coverage: Mapping[str, Mapping[str, Any]]
    alert_ids: frozenset[str]
    incidents: Mapping[str, Mapping[str, Any]]
    demand: Mapping[str, float]
    """``total|area|measure|label``, ``<window>|area|measure|label`` and ``open|area|grade``."""
    outputs: Mapping[str, Mapping[Identity, frozenset[bytes]]]
    """topic -> identity -> the distinct canonical values with that identity."""
    clock: float | None
    archive: ArchiveState | None = None
    """None when the run kept no archive."""
    trail: frozenset[str] = frozenset()
    """``minute|radio|point``: the time control's trail (:mod:`streams.domain.replay`)."""
    state_changes: frozenset[str] = frozenset()
    """``area|state|instant``: the coverage state changes the time control replays states
    from (a change stored twice counts once: the replay reads the latest by instant)."""

    @property
    def dose_seconds(self) -> float:
        """Officer-seconds since the start over every area and split."""
        return sum(v for k, v in self.dose.items() if k.startswith("total|"))

    @property
    def deadletters(self) -> int:
        """Distinct rejected source messages."""
        return len(self.outputs.get(topics.DEADLETTER, {}))


def canonical(value: Mapping[str, Any]) -> bytes:
    """One byte string per JSON value: sorted keys."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def output_identity(
    topic: str, value: Mapping[str, Any], source_ids: Mapping[tuple[str, int, int], str]
) -> tuple[Identity, Mapping[str, Any]]:
    """The identity of an output record and the value compared under it (see module doc)."""
    if topic == topics.VISITS:
        return (value["visit_id"], value["revision"]), value
    if topic == topics.ALERTS:
        return (value["alert_id"], value["event"], value["severity"]), value
    if topic == topics.DEADLETTER:
        source = (
            str(value["source_topic"]),
            int(value["source_partition"]),
            int(value["source_offset"]),
        )
        source_id = source_ids.get(source, f"offset {source[2]}")
        compared = {k: v for k, v in value.items() if k not in ("ts", "source_offset")}
        return (source[0], source_id), {**compared, "source": source_id}
    raise ValueError(f"no identity for topic {topic}")


def final_state(
    outputs: Mapping[str, Iterable[Mapping[str, Any]]],
    figures: RedisFigures,
    source_ids: Mapping[tuple[str, int, int], str],
) -> FinalState:
    """The canonical final state of a run.

    ``outputs``: the values read from each output topic (unprefixed contract names);
    ``source_ids``: (input topic, partition, offset) -> the id of the published record there.
    """
    records: dict[str, dict[Identity, set[bytes]]] = {}
    for topic in (topics.VISITS, topics.ALERTS, topics.DEADLETTER):
        by_identity: dict[Identity, set[bytes]] = {}
        for value in outputs.get(topic, ()):
            identity, compared = output_identity(topic, value, source_ids)
            by_identity.setdefault(identity, set()).add(canonical(compared))
        records[topic] = by_identity
    return FinalState(
        visits=_final_visits(outputs.get(topics.VISITS, ())),
        dose={**_window_figures(figures.dose, DOSE_WINDOWS), **_patrol_figures(figures.patrol)},
        coverage={area: _judged(orjson.loads(blob)) for area, blob in figures.coverage.items()},
        alert_ids=frozenset(str(v["alert_id"]) for v in outputs.get(topics.ALERTS, ())),
        incidents={i: orjson.loads(blob) for i, blob in figures.incidents.items()},
        demand={
            **_window_figures(figures.demand, DEMAND_WINDOWS),
            **_open_counts(figures.open_incidents),
        },
        outputs={
            topic: {identity: frozenset(values) for identity, values in found.items()}
            for topic, found in records.items()
        },
        clock=None if figures.clock is None else float(figures.clock),
        trail=frozenset(
            f"{minute}|{radio}|{point}"
            for minute, points in figures.trail
            for radio, point in points.items()
        ),
        state_changes=frozenset(
            f"{change['area_id']}|{change['state']}|{change['ts']}"
            for change in map(orjson.loads, figures.state_changes)
        ),
    )


def archive_state(
    rows: Mapping[str, Iterable[Mapping[str, Any]]],
    files: Mapping[str, bytes],
    facts: Mapping[str, Iterable[Mapping[str, Any]]],
    source_ids: Mapping[tuple[str, int, int], str],
) -> ArchiveState:
    """The canonical archive of a run.

    ``rows``: every row of each input table (after compaction); ``files``: those tables' files
    (path under the root -> bytes); ``facts``: each facts frame's rows; ``source_ids`` as for
    :func:`final_state`.
    """
    by_table: dict[str, dict[str, list[bytes]]] = {}
    for table, found in rows.items():
        by_id = by_table.setdefault(table, {})
        for row in found:
            source = (
                str(row["source_topic"]),
                int(row["source_partition"]),
                int(row["source_offset"]),
            )
            record_id = source_ids.get(source, "{}.{}@{}".format(*source))
            values = {k: v for k, v in row.items() if k not in SOURCE_COLUMNS}
            by_id.setdefault(record_id, []).append(canonical(values))
    layout = hashlib.sha256(canonical({"{}.{}@{}".format(*k): v for k, v in source_ids.items()}))
    return ArchiveState(
        rows={t: {i: tuple(sorted(v)) for i, v in by_id.items()} for t, by_id in by_table.items()},
        files={path: hashlib.sha256(content).hexdigest() for path, content in files.items()},
        layout=layout.hexdigest(),
        facts={
            name: tuple(sorted(canonical(_fact_row(row)) for row in frame))
            for name, frame in facts.items()
        },
    )


def _fact_row(row: Mapping[str, Any]) -> dict[str, Any]:
    return {str(name): _fact_value(value) for name, value in row.items()}


def _fact_value(value: Any) -> Any:
    """A facts cell as plain JSON: dates as ISO text, NaN as null, NumPy scalars and arrays as
    Python values."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, list | tuple):
        return [_fact_value(item) for item in value]
    if isinstance(value, float):
        return None if math.isnan(value) else value
    return value


def _final_visits(values: Iterable[Mapping[str, Any]]) -> dict[str, Visit]:
    """Each visit id at its highest revision (ties, which should not exist, broken by the
    value so that the choice does not depend on the order read)."""
    best: dict[str, tuple[int, bytes, Mapping[str, Any]]] = {}
    for value in values:
        visit_id = str(value["visit_id"])
        rank = (int(value["revision"]), canonical(value))
        held = best.get(visit_id)
        if held is None or rank > held[:2]:
            best[visit_id] = (*rank, value)
    return {
        visit_id: Visit(
            str(v["area_id"]),
            str(v["start"]),
            None if v["end"] is None else str(v["end"]),
            float(v["seconds"]),
            str(v["activity"]),
            str(v["status"]),
            int(v["revision"]),
        )
        for visit_id, (_, _, v) in best.items()
    }


def _window_figures(
    partitions: Sequence[tuple[Mapping[str, str], Mapping[str, str]]], windows: Sequence[int]
) -> dict[str, float]:
    """Totals since the start and window sums per field, summed over partitions."""
    summed: dict[str, float] = {}
    for totals, outs in partitions:
        for name, total in totals.items():
            key = f"total|{name}"
            summed[key] = summed.get(key, 0.0) + float(total)
        raw_totals = {k.encode(): v.encode() for k, v in totals.items()}
        raw_outs = {k.encode(): v.encode() for k, v in outs.items()}
        for window, name, amount in window_sums(raw_totals, raw_outs, windows):
            key = f"{window}|{name}"
            summed[key] = summed.get(key, 0.0) + amount
    return summed


def _patrol_figures(minutes: Sequence[tuple[int, Mapping[str, str]]]) -> dict[str, float]:
    """Patrol-seconds per area and minute, from the steps of every partition together."""
    steps: dict[MinuteKey, Steps] = {}
    for minute, fields in minutes:
        for name, delta in fields.items():
            area_id, _, offset = name.rpartition("|")
            add_steps(steps, {(area_id, minute): {int(offset): int(delta)}})
    return {
        f"patrol|{area_id}|{minute}": seconds
        for (area_id, minute), seconds in patrol_by_minute(steps).items()
    }


def _open_counts(partitions: Sequence[Mapping[str, str]]) -> dict[str, float]:
    counts: dict[str, float] = {}
    for open_counts in partitions:
        for name, value in open_counts.items():
            counts[f"open|{name}"] = counts.get(f"open|{name}", 0.0) + int(value)
    return counts


# -- differences ----------------------------------------------------------------------------


def diff(expected: FinalState, actual: FinalState) -> list[str]:
    """One line per part that differs (counts and a few examples); empty when they agree."""
    found = [
        _diff_visits(expected.visits, actual.visits),
        _diff_numbers("dose", expected.dose, actual.dose, "s"),
        _diff_documents("coverage", "areas", expected.coverage, actual.coverage),
        _diff_sets("alert ids", expected.alert_ids, actual.alert_ids),
        _diff_documents("incidents", "incidents", expected.incidents, actual.incidents),
        _diff_numbers("demand", expected.demand, actual.demand, ""),
        *(
            _diff_records(topic, expected.outputs.get(topic, {}), actual.outputs.get(topic, {}))
            for topic in (topics.VISITS, topics.ALERTS, topics.DEADLETTER)
        ),
    ]
    found.append(_diff_sets("trail points", expected.trail, actual.trail))
    found.append(_diff_sets("state changes", expected.state_changes, actual.state_changes))
    if expected.clock != actual.clock:
        found.append(f"event clock: {_when(expected.clock)} -> {_when(actual.clock)}")
    if expected.archive is not None or actual.archive is not None:
        found.extend(diff_archive(expected.archive, actual.archive))
    return [line for line in found if line]


def diff_archive(expected: ArchiveState | None, actual: ArchiveState | None) -> list[str]:
    """One line per archive table, file set or facts frame that differs; empty when they
    agree."""
    if expected is None or actual is None:
        kept = ["no archive", "an archive"]
        return [f"archive: {kept[expected is not None]} -> {kept[actual is not None]}"]
    found = [
        _diff_archive_rows(table, expected.rows.get(table, {}), actual.rows.get(table, {}))
        for table in INPUT_TABLES
    ]
    if expected.layout == actual.layout:
        found.append(_diff_files(expected.files, actual.files))
    found += [
        _diff_fact_rows(name, expected.facts.get(name, ()), actual.facts.get(name, ()))
        for name in sorted(expected.facts.keys() | actual.facts.keys())
    ]
    return [line for line in found if line]


def _diff_archive_rows(
    table: str,
    expected: Mapping[str, tuple[bytes, ...]],
    actual: Mapping[str, tuple[bytes, ...]],
) -> str:
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    duplicated = sorted(i for i, values in actual.items() if len(values) > 1)
    changed = sorted(
        i for i in expected.keys() & actual.keys() if set(expected[i]) != set(actual[i])
    )
    if not (missing or extra or duplicated or changed):
        return ""
    examples = [f"missing {i}" for i in missing[:EXAMPLES]]
    examples += [f"extra {i}" for i in extra[:EXAMPLES]]
    examples += [f"{i} {len(actual[i])} times" for i in duplicated[:EXAMPLES]]
    for record_id in changed[:EXAMPLES]:
        before, after = orjson.loads(expected[record_id][0]), orjson.loads(actual[record_id][0])
        examples.append(f"{record_id}: {_field_changes(before, after)}")
    return (
        f"archive {table}: {len(missing)} missing, {len(extra)} extra, {len(duplicated)} "
        f"duplicated, {len(changed)} differ (of {len(expected)} records); e.g. "
        + _examples(examples)
    )


def _diff_files(expected: Mapping[str, str], actual: Mapping[str, str]) -> str:
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    changed = sorted(p for p in expected.keys() & actual.keys() if expected[p] != actual[p])
    if not (missing or extra or changed):
        return ""
    examples = [f"missing {p}" for p in missing] + [f"extra {p}" for p in extra]
    examples += [f"other bytes {p}" for p in changed]
    return (
        f"archive files: {len(missing)} missing, {len(extra)} extra, {len(changed)} differ "
        f"(of {len(expected)} input table files); e.g. {_examples(examples)}"
    )


def _diff_fact_rows(name: str, expected: Sequence[bytes], actual: Sequence[bytes]) -> str:
    missing = [orjson.loads(r) for r in sorted((Counter(expected) - Counter(actual)).elements())]
    extra = [orjson.loads(r) for r in sorted((Counter(actual) - Counter(expected)).elements())]
    if not (missing or extra):
        return ""
    examples = [f"missing {_short(row, 120)}" for row in missing[:EXAMPLES]]
    examples += [f"extra {_short(row, 120)}" for row in extra[:EXAMPLES]]
    return (
        f"facts {name}: {len(missing)} rows missing, {len(extra)} extra (of {len(expected)}); "
        f"e.g. {_examples(examples)}"
    )


def _when(ts: float | None) -> str:
    if ts is None:
        return "none"
    try:
        return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%S")
    except (OverflowError, ValueError, OSError):
        return repr(ts)


def _examples(items: Iterable[str]) -> str:
    shown = list(items)
    return "; ".join(shown[:EXAMPLES]) + (" ..." if len(shown) > EXAMPLES else "")


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL_TOL, abs_tol=ABS_TOL)


def _diff_visits(expected: Mapping[str, Visit], actual: Mapping[str, Visit]) -> str:
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    changed = sorted(
        visit_id
        for visit_id in expected.keys() & actual.keys()
        if _visit_fields(expected[visit_id]) != _visit_fields(actual[visit_id])
    )
    if not (missing or extra or changed):
        return ""
    examples = [f"missing {_show_visit(i, expected[i])}" for i in missing[:EXAMPLES]]
    examples += [f"extra {_show_visit(i, actual[i])}" for i in extra[:EXAMPLES]]
    examples += [_visit_change(i, expected[i], actual[i]) for i in changed[:EXAMPLES]]
    return (
        f"visits: {len(missing)} missing, {len(extra)} extra, {len(changed)} differ "
        f"(of {len(expected)}); e.g. {_examples(examples)}"
    )


def _visit_fields(visit: Visit) -> tuple[object, ...]:
    return (visit.start, visit.end, visit.seconds, visit.activity, visit.status)


def _show_visit(visit_id: str, visit: Visit) -> str:
    end = visit.end[11:19] if visit.end else "open"
    return (
        f"{visit_id[:12]} ({visit.area_id} {visit.start[11:19]}-{end} {visit.seconds:g} s "
        f"{visit.activity} {visit.status} r{visit.revision})"
    )


def _visit_change(visit_id: str, before: Visit, after: Visit) -> str:
    parts = [
        f"{name} {a!r}->{b!r}"
        for name, a, b in zip(
            ("start", "end", "seconds", "activity", "status"),
            _visit_fields(before),
            _visit_fields(after),
            strict=True,
        )
        if a != b
    ]
    return f"{visit_id[:12]} ({before.area_id}) " + ", ".join(parts)


def _diff_numbers(
    name: str, expected: Mapping[str, float], actual: Mapping[str, float], unit: str
) -> str:
    keys = sorted(expected.keys() | actual.keys())
    changed = [k for k in keys if not _same(expected.get(k, 0.0), actual.get(k, 0.0))]
    if not changed:
        return ""
    totals = [k for k in changed if k.startswith("total|")] or changed
    before = sum(v for k, v in expected.items() if k.startswith("total|"))
    after = sum(v for k, v in actual.items() if k.startswith("total|"))
    examples = [
        f"{k} {expected.get(k, 0.0):.6g}{unit}->{actual.get(k, 0.0):.6g}{unit}"
        for k in totals[:EXAMPLES]
    ]
    return (
        f"{name}: {len(changed)} of {len(keys)} figures differ (totals {before:.6g}{unit} -> "
        f"{after:.6g}{unit}); e.g. {_examples(examples)}"
    )


def _diff_documents(
    name: str,
    noun: str,
    expected: Mapping[str, Mapping[str, Any]],
    actual: Mapping[str, Mapping[str, Any]],
) -> str:
    missing = sorted(expected.keys() - actual.keys())
    extra = sorted(actual.keys() - expected.keys())
    changed = sorted(k for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    if not (missing or extra or changed):
        return ""
    examples = [f"missing {k}" for k in missing[:EXAMPLES]] + [
        f"extra {k}" for k in extra[:EXAMPLES]
    ]
    examples += [f"{k}: {_field_changes(expected[k], actual[k])}" for k in changed[:EXAMPLES]]
    return (
        f"{name}: {len(missing)} missing, {len(extra)} extra, {len(changed)} differ "
        f"(of {len(expected)} {noun}); e.g. {_examples(examples)}"
    )


def _field_changes(before: Mapping[str, Any], after: Mapping[str, Any], limit: int = 3) -> str:
    """The top-level fields that differ, ``name a->b`` (nested values shortened)."""
    names = sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
    shown = [f"{n} {_short(before.get(n))}->{_short(after.get(n))}" for n in names[:limit]]
    return ", ".join(shown) + (" ..." if len(names) > limit else "")


def _short(value: object, width: int = 60) -> str:
    text = value if isinstance(value, str) else orjson.dumps(value).decode()
    return text if len(text) <= width else text[: width - 3] + "..."


def _diff_sets(name: str, expected: frozenset[str], actual: frozenset[str]) -> str:
    missing, extra = sorted(expected - actual), sorted(actual - expected)
    if not (missing or extra):
        return ""
    return (
        f"{name}: {len(missing)} missing, {len(extra)} extra (of {len(expected)}); e.g. "
        + _examples([f"missing {i}" for i in missing] + [f"extra {i}" for i in extra])
    )


def _diff_records(
    topic: str,
    expected: Mapping[Identity, frozenset[bytes]],
    actual: Mapping[Identity, frozenset[bytes]],
) -> str:
    missing = sorted(expected.keys() - actual.keys(), key=repr)
    extra = sorted(actual.keys() - expected.keys(), key=repr)
    changed = sorted(
        (k for k in expected.keys() & actual.keys() if expected[k] != actual[k]), key=repr
    )
    conflicts = sum(1 for values in actual.values() if len(values) > 1)
    if not (missing or extra or changed):
        return ""
    examples = [f"missing {_identity(k)}" for k in missing[:EXAMPLES]]
    examples += [f"extra {_identity(k)}" for k in extra[:EXAMPLES]]
    for key in changed[:EXAMPLES]:
        before = orjson.loads(min(expected[key]))
        after = orjson.loads(min(actual[key]))
        examples.append(f"{_identity(key)}: {_field_changes(before, after)}")
    line = (
        f"topic {topic}: {len(missing)} missing, {len(extra)} extra, {len(changed)} differ "
        f"(of {len(expected)})"
    )
    if conflicts:
        line += f", {conflicts} identities with several contents"
    return f"{line}; e.g. {_examples(examples)}"


def _identity(identity: Identity) -> str:
    return "/".join(str(part)[:24] for part in identity)


def summary_line(
    scenario: str,
    verdict: str,
    state: FinalState | None,
    duration_s: float,
    differences: Sequence[str],
    note: str = "",
) -> str:
    """The suite's one line for a scenario: verdict, key figures and the first differences."""
    figures = (
        f"visits={len(state.visits)} dose={state.dose_seconds:.0f}s "
        f"alerts={len(state.alert_ids)} deadletters={state.deadletters} "
        f"archived={'-' if state.archive is None else state.archive.row_count} "
        f"trail={len(state.trail)} changes={len(state.state_changes)}"
        if state is not None
        else "visits=- dose=- alerts=- deadletters=- archived=- trail=- changes=-"
    )
    detail = note or " | ".join(d[:160] for d in differences[:2])
    return f"{scenario:<22} {verdict:<4} {figures} {duration_s:5.0f}s" + (
        f"  {detail}" if detail else ""
    )


def without_sources(state: FinalState, source_ids: Iterable[str]) -> FinalState:
    """``state`` without the deadletters of the given source messages (injected ones, which a
    clean run has not seen)."""
    dropped = set(source_ids)
    deadletters = {
        identity: values
        for identity, values in state.outputs.get(topics.DEADLETTER, {}).items()
        if identity[1] not in dropped
    }
    return replace(state, outputs={**state.outputs, topics.DEADLETTER: deadletters})


def undeadlettered(state: FinalState, injected: Mapping[str, str]) -> str:
    """A line naming the injected messages (id -> topic) that are not on ``deadletter``, or
    empty when every one of them is there (nothing bad may be dropped silently)."""
    found = {identity[1] for identity in state.outputs.get(topics.DEADLETTER, {})}
    absent = [source_id for source_id in injected if source_id not in found]
    if not absent:
        return ""
    by_topic: dict[str, int] = {}
    for source_id in absent:
        by_topic[injected[source_id]] = by_topic.get(injected[source_id], 0) + 1
    counts = ", ".join(f"{topic} {count}" for topic, count in sorted(by_topic.items()))
    return f"injected: {len(absent)} of {len(injected)} not on deadletter ({counts})"


def state_to_json(state: FinalState) -> bytes:
    """The final state as one JSON document (kept beside a run's logs, to look into a
    difference after the run)."""
    document = {
        "visits": {k: _visit_dict(v) for k, v in sorted(state.visits.items())},
        "dose": dict(sorted(state.dose.items())),
        "coverage": dict(sorted(state.coverage.items())),
        "alert_ids": sorted(state.alert_ids),
        "incidents": dict(sorted(state.incidents.items())),
        "demand": dict(sorted(state.demand.items())),
        "outputs": {
            topic: [
                {"identity": list(identity), "values": [orjson.loads(v) for v in sorted(values)]}
                for identity, values in sorted(found.items(), key=lambda item: repr(item[0]))
            ]
            for topic, found in state.outputs.items()
        },
        "clock": state.clock,
        "trail": sorted(state.trail),
        "state_changes": sorted(state.state_changes),
        "archive": None if state.archive is None else _archive_dict(state.archive),
    }
    return orjson.dumps(document, option=orjson.OPT_INDENT_2)


def _archive_dict(archive: ArchiveState) -> dict[str, object]:
    return {
        "rows": {
            table: {i: [orjson.loads(v) for v in values] for i, values in sorted(by_id.items())}
            for table, by_id in sorted(archive.rows.items())
        },
        "files": dict(sorted(archive.files.items())),
        "layout": archive.layout,
        "facts": {
            name: [orjson.loads(row) for row in rows]
            for name, rows in sorted(archive.facts.items())
        },
    }


def _visit_dict(visit: Visit) -> dict[str, object]:
    return {name: getattr(visit, name) for name in Visit.__slots__}


def _judged(status: dict[str, Any]) -> dict[str, Any]:
    """A stored coverage status without the age of its gap at its last evaluation."""
    return {key: value for key, value in status.items() if key != "elapsed_s"}
