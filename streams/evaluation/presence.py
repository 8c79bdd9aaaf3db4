"""Presence facts from final visits: officer-minutes, patrol-minutes, visit counts, gaps and
whether each area-day met its policy, per area, local day and hour band.

- **Officer-minutes**: every visit's ``[start, end]`` cut at the local day and hour-band edges,
  summed (two officers together for 10 minutes give 20).
- **Patrol-minutes**: the minutes with at least one officer present: the union of the area's
  visit intervals, cut the same way (the same 10 minutes give 10). As the live
  :mod:`streams.domain.patrol`, every presence counts: observed and inferred visits,
  drive-throughs, qualifying or not (a stuck radio's time is already out of its visits).
- **Visits** (and qualifying visits, drive-throughs, inferred visits) count in the day and band
  where they started.
- **Gaps**: between consecutive stretches of presence (the union) within one local day; the
  stretches before the first and after the last presence of the day are not gaps between
  visits and are left out.
- **met_policy**: :func:`streams.evaluation.intervals.met_policy`, with qualifying visits as
  the cover and the day before as the look-back.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from streams.domain.coverage import CoveragePolicy
from streams.evaluation.intervals import (
    HOUR_BANDS,
    BandEdges,
    FloatArray,
    clip_to_edges,
    gaps_between,
    met_policy,
    minute_limits,
    union_intervals,
)
from streams.evaluation.places import Place

SPLIT_KEYS = ["role", "unit", "mode", "activity"]
_EPOCH = pd.Timestamp(0, tz="UTC")


def epoch_seconds(times: pd.Series) -> FloatArray:
    """UTC datetimes as float seconds since the epoch (whatever the series' unit)."""
    return np.asarray((times - _EPOCH) / pd.Timedelta(seconds=1), dtype=np.float64)


def slot_labels(edges: BandEdges) -> pd.DataFrame:
    """Slot number -> (day, hour_band) for every hour band of ``edges``."""
    slots = len(edges.edges) - 1
    return pd.DataFrame(
        {
            "day": [edges.days[slot // len(HOUR_BANDS)] for slot in range(slots)],
            "hour_band": [HOUR_BANDS[slot % len(HOUR_BANDS)] for slot in range(slots)],
        }
    )


def officer_pieces(visits: pd.DataFrame, edges: BandEdges) -> pd.DataFrame:
    """Each visit cut at the band edges: area_id, the split keys, slot and minutes."""
    starts, ends = epoch_seconds(visits["start"]), epoch_seconds(visits["end"])
    index, slot, piece_start, piece_end = clip_to_edges(starts, ends, edges.edges)
    pieces = visits.iloc[index][["area_id", *SPLIT_KEYS]].reset_index(drop=True)
    pieces["slot"] = pd.Series(slot, dtype="int64")
    pieces["officer_minutes"] = pd.Series((piece_end - piece_start) / 60.0, dtype=float)
    return pieces


def visit_counts(visits: pd.DataFrame, edges: BandEdges) -> pd.DataFrame:
    """Each visit in the slot it started in, with 0/1 columns for what it counts as."""
    slot = np.searchsorted(edges.edges, epoch_seconds(visits["start"]), side="right") - 1
    counted = visits[["area_id", *SPLIT_KEYS]].copy()
    counted["slot"] = slot
    counted["visits"] = 1
    counted["qualifying_visits"] = visits["qualifying"].astype(int).to_numpy()
    counted["drive_throughs"] = visits["drive_through"].astype(int).to_numpy()
    counted["inferred_visits"] = visits["inferred"].astype(int).to_numpy()
    counted["visit_minutes"] = visits["seconds"].fillna(0.0).to_numpy() / 60.0
    return counted[(slot >= 0) & (slot < len(edges.edges) - 1)]


def presence_unions(visits: pd.DataFrame) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Per area, the union of its visit intervals (starts, ends)."""
    unions: dict[str, tuple[FloatArray, FloatArray]] = {}
    for area_id, rows in visits.groupby("area_id", sort=True):
        unions[str(area_id)] = union_intervals(
            epoch_seconds(rows["start"]), epoch_seconds(rows["end"])
        )
    return unions


def patrol_minutes(
    unions: dict[str, tuple[FloatArray, FloatArray]], edges: FloatArray
) -> pd.DataFrame:
    """Per (area_id, slot of ``edges``): minutes with at least one officer present."""
    frames = []
    for area_id, (starts, ends) in unions.items():
        _, slot, piece_start, piece_end = clip_to_edges(starts, ends, edges)
        minutes = pd.Series((piece_end - piece_start) / 60.0).groupby(slot).sum()
        frames.append(
            pd.DataFrame({"area_id": area_id, "slot": minutes.index, "patrol_minutes": minutes})
        )
    empty = pd.DataFrame({"area_id": [], "slot": [], "patrol_minutes": []})
    return pd.concat([empty, *frames], ignore_index=True).astype(
        {"area_id": "str", "slot": "int64", "patrol_minutes": "float64"}
    )


def day_gaps(
    unions: dict[str, tuple[FloatArray, FloatArray]], day_edges: FloatArray
) -> pd.DataFrame:
    """Per (area_id, day slot) with two stretches of presence or more: the mean and longest
    gap between them, in minutes."""
    rows = []
    for area_id, (starts, ends) in unions.items():
        _, slot, piece_start, piece_end = clip_to_edges(starts, ends, day_edges)
        for day_slot in np.unique(slot):
            mask = slot == day_slot
            gaps = gaps_between(piece_start[mask], piece_end[mask]) / 60.0
            if gaps.size:
                rows.append((area_id, int(day_slot), float(gaps.mean()), float(gaps.max())))
    columns = ["area_id", "day_slot", "mean_gap_minutes", "max_gap_minutes"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.astype({"day_slot": "int64", "mean_gap_minutes": float, "max_gap_minutes": float})


def policy_met(
    visits: pd.DataFrame, places: Sequence[Place], edges: BandEdges, first_day_index: int
) -> pd.DataFrame:
    """Per (area_id, day index from ``first_day_index``) of every place with a policy: whether
    the area-day met it; the look-back for the first gap is the start of the day before."""
    qualifying = visits[visits["qualifying"]]
    covers = {
        str(area): (epoch_seconds(rows["start"]), epoch_seconds(rows["end"]))
        for area, rows in qualifying.groupby("area_id")
    }
    rows = []
    empty = (np.zeros(0), np.zeros(0))
    for place in places:
        if place.policy is None:
            continue
        cover_starts, cover_ends = covers.get(place.area_id, empty)
        for index in range(first_day_index, len(edges.days)):
            day_start, day_end = edges.day_start(index), edges.day_end(index)
            limits = _limits(day_start, day_end, place.policy)
            met = met_policy(
                cover_starts, cover_ends, day_start, limits, edges.day_start(index - 1)
            )
            rows.append((place.area_id, edges.days[index], met))
    return pd.DataFrame(rows, columns=["area_id", "day", "met_policy"])


@lru_cache(maxsize=512)
def _limits(day_start: float, day_end: float, policy: CoveragePolicy) -> FloatArray:
    """The policy's limit per minute of a day (cached: areas share policies)."""
    return minute_limits(day_start, day_end, policy)
