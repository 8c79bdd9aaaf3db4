"""The report's question 7: is presence related to crime, and is crime displaced?

- (a) :func:`did_table`: impact (T) against comparison (C) areas, baseline (0) against period
  (1): difference-in-differences on counts and Farrington's RES, per crime category and all;
- (b) :func:`displacement_table`: Bowers & Johnson's WDQ with the Impact Areas' rings as the
  buffer, and Wheeler & Ratcliffe's WDD with the comparison areas' rings as the buffer's
  control;
- (c) :func:`residual_deterrence`: Kaplan-Meier survival to the next crime after a visit ends,
  censored at the next visit, by visit-duration band (Koper 1995);
- (d) :func:`dose_response`: crimes per area-day against that day's dose, with area fixed
  effects, as an incidence-rate ratio per 10 minutes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd

from streams.evaluation.questions import PROGRAMME_KINDS, Window, kind_of
from streams.evaluation.statistics import (
    DURATION_BANDS,
    SurvivalCurve,
    difference_in_differences,
    duration_band,
    kaplan_meier,
    log_rank,
    rate_ratio_per,
    relative_effect_size,
    weighted_displacement_difference,
    weighted_displacement_quotient,
)

DID_COLUMNS = [
    "crime_category",
    "t0",
    "t1",
    "c0",
    "c1",
    "did",
    "did_se",
    "did_z",
    "res",
    "res_ci_low",
    "res_ci_high",
    "did_ci_low",
    "did_ci_high",
    "reason",
]
DISPLACEMENT_COLUMNS = [
    "scope",
    "ra",
    "rb",
    "da",
    "db",
    "ca",
    "cb",
    "cda",
    "cdb",
    "sm",
    "bdm",
    "wdq",
    "wdd",
    "wdd_se",
    "wdd_z",
    "wdd_ci_low",
    "wdd_ci_high",
    "reason",
]
MINUTES_AFTER = (15, 30, 60, 120, 240, 480)
"""The times after a visit at which the residual-deterrence table reads each survival curve."""
DOSE_PER_MINUTES = 10.0


@dataclass(frozen=True)
class Places:
    """The ids of the four groups of places: Impact Areas (R/T), their rings (D), comparison
    areas (C) and the comparison areas' rings (CD)."""

    impact: frozenset[str]
    impact_rings: frozenset[str]
    comparison: frozenset[str]
    comparison_rings: frozenset[str]

    @classmethod
    def of(cls, areas: pd.DataFrame) -> Places:
        """The groups from the facts' areas (rings by ``ring_of``)."""
        by_kind = {
            kind: frozenset(areas.loc[areas["kind"] == kind, "area_id"])
            for kind in ("impact", "comparison")
        }
        rings = areas.loc[areas["kind"] == "ring"]
        return cls(
            by_kind["impact"],
            frozenset(rings.loc[rings["ring_of"].isin(by_kind["impact"]), "area_id"]),
            by_kind["comparison"],
            frozenset(rings.loc[rings["ring_of"].isin(by_kind["comparison"]), "area_id"]),
        )


def _count(crimes: pd.DataFrame, places: frozenset[str], category: str) -> int:
    """Crime rows in ``places`` of ``category`` ('all' for every category)."""
    chosen = crimes.loc[crimes["area_id"].isin(places)]
    if category != "all":
        chosen = chosen.loc[chosen["category"] == category]
    return len(chosen)


def _categories(*windows: Window) -> list[str]:
    """'all', then every crime category seen in any window."""
    seen = set().union(*(set(w.facts.crimes["category"].dropna()) for w in windows))
    return ["all", *sorted(seen)]


def did_table(baseline: Window, period: Window) -> pd.DataFrame:
    """Q7(a) (contract): T0, T1, C0, C1 and their DiD and RES per category and for all crime."""
    places = Places.of(period.facts.areas)
    rows = []
    for category in _categories(baseline, period):
        t0, t1, c0, c1 = (
            _count(window.facts.crimes, group, category)
            for window, group in (
                (baseline, places.impact),
                (period, places.impact),
                (baseline, places.comparison),
                (period, places.comparison),
            )
        )
        did, res = difference_in_differences(t0, t1, c0, c1), relative_effect_size(t0, t1, c0, c1)
        reasons = [reason for reason in (did.reason, res.reason) if reason]
        rows.append(
            [
                category,
                t0,
                t1,
                c0,
                c1,
                did.value,
                did.se,
                did.z,
                res.res,
                res.ci_low,
                res.ci_high,
                did.ci_low,
                did.ci_high,
                "; ".join(reasons) or None,
            ]
        )
    return pd.DataFrame(rows, columns=DID_COLUMNS)


def displacement_table(baseline: Window, period: Window) -> pd.DataFrame:
    """Q7(b) (contract): WDQ and WDD for all crime (scope 'all') and per category."""
    places = Places.of(period.facts.areas)
    rows = []
    for category in _categories(baseline, period):
        counts = {
            f"{name}{suffix}": _count(window.facts.crimes, group, category)
            for name, group in (
                ("r", places.impact),
                ("d", places.impact_rings),
                ("c", places.comparison),
                ("cd", places.comparison_rings),
            )
            for suffix, window in (("a", period), ("b", baseline))
        }
        quotient = weighted_displacement_quotient(
            counts["ra"], counts["rb"], counts["da"], counts["db"], counts["ca"], counts["cb"]
        )
        difference = weighted_displacement_difference(
            counts["rb"],
            counts["ra"],
            counts["cb"],
            counts["ca"],
            counts["db"],
            counts["da"],
            counts["cdb"],
            counts["cda"],
        )
        reasons = [reason for reason in (quotient.reason, difference.reason) if reason]
        rows.append(
            {
                "scope": category,
                **counts,
                "sm": quotient.sm,
                "bdm": quotient.bdm,
                "wdq": quotient.wdq,
                "wdd": difference.value,
                "wdd_se": difference.se,
                "wdd_z": difference.z,
                "wdd_ci_low": difference.ci_low,
                "wdd_ci_high": difference.ci_high,
                "reason": "; ".join(reasons) or None,
            }
        )
    return pd.DataFrame(rows, columns=DISPLACEMENT_COLUMNS)


def _utc(values: pd.Series) -> np.ndarray:
    """Timestamps as naive UTC ``datetime64[ns]`` (numpy compares and subtracts them)."""
    return pd.to_datetime(values, utc=True).dt.tz_localize(None).to_numpy("datetime64[ns]")


def visit_outcomes(period: Window, zone: str) -> pd.DataFrame:
    """For each visit in a programme area: its duration band, the minutes from its end to the
    next crime in the area or to the censoring point (the start of the area's next visit, or the
    period's end), and whether a crime ended the wait. Overlapping visits are not merged: a
    visit that ends while another goes on is censored at once (0 minutes)."""
    facts = period.facts
    visits = facts.visits.loc[facts.visits["area_id"].map(kind_of(facts)).isin(PROGRAMME_KINDS)]
    end_local = pd.Timestamp(period.last + timedelta(days=1)).tz_localize(zone)
    period_end = end_local.tz_convert("UTC").tz_localize(None).to_datetime64()
    crime_times = _utc(facts.crimes["ts"])
    crime_areas = facts.crimes["area_id"].to_numpy()
    parts = [
        pd.DataFrame(
            {
                "duration_band": [duration_band(s / 60) for s in own["seconds"]],
                **_waits(
                    _utc(own["start"]),
                    _utc(own["end"]),
                    np.sort(crime_times[crime_areas == area_id]),
                    period_end,
                ),
            }
        )
        for area_id, own in visits.groupby("area_id")
    ]
    if not parts:
        return pd.DataFrame({"duration_band": [], "minutes_after": [], "crime": []})
    return pd.concat(parts, ignore_index=True)


def _waits(
    starts: np.ndarray, ends: np.ndarray, crime_times: np.ndarray, period_end: np.datetime64
) -> dict[str, np.ndarray]:
    """One area's waits: ``minutes_after`` each visit's end and ``crime`` (True) or censored."""
    ordered = np.sort(starts)
    following = np.searchsorted(ordered, ends, side="left")  # the first start at or after the end
    padded = np.append(ordered, period_end)
    censor = np.minimum(padded[following], period_end)
    next_crime = np.searchsorted(crime_times, ends, side="right")  # strictly after the end
    crime_at = np.append(crime_times, period_end)[next_crime]
    crimed = (next_crime < len(crime_times)) & (crime_at <= censor)
    waited = np.where(crimed, crime_at, censor) - ends
    return {"minutes_after": waited / np.timedelta64(1, "m"), "crime": crimed}


def survival_curves(outcomes: pd.DataFrame) -> dict[str, SurvivalCurve | None]:
    """The Kaplan-Meier curve of each duration band (None for a band without a visit)."""
    return {
        band: kaplan_meier(
            outcomes.loc[outcomes["duration_band"] == band, "minutes_after"].clip(lower=0).tolist(),
            outcomes.loc[outcomes["duration_band"] == band, "crime"].astype(bool).tolist(),
        )
        for band, _, _ in DURATION_BANDS
    }


def residual_deterrence(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Q7(c) (contract): S(t) by band at each of :data:`MINUTES_AFTER`, with the band's visits,
    crimes (uncensored waits) and a pointwise 95 % interval."""
    rows = []
    for band, curve in survival_curves(outcomes).items():
        own = outcomes.loc[outcomes["duration_band"] == band]
        for minutes in MINUTES_AFTER:
            survival, low, high = curve.at(minutes) if curve else (None, None, None)
            rows.append(
                {
                    "duration_band": band,
                    "visits": len(own),
                    "minutes_after": minutes,
                    "survival": survival,
                    "survival_ci_low": low,
                    "survival_ci_high": high,
                    "crimes": int(own["crime"].sum()),
                }
            )
    return pd.DataFrame(rows)


SHORT_BANDS = ("0-2",)
LONG_BANDS = ("10-15", "15-20", ">20")
"""The issue's contrast: visits under 2 minutes against visits of 10 minutes or more."""


def deterrence_contrast(outcomes: pd.DataFrame) -> pd.DataFrame:
    """Q7(c): visits under 2 minutes against visits of 10 minutes or more, each group's
    Kaplan-Meier S(t) at :data:`MINUTES_AFTER`, with the log-rank test of the two curves."""
    group = outcomes["duration_band"].map(
        {**dict.fromkeys(SHORT_BANDS, "under_2"), **dict.fromkeys(LONG_BANDS, "10_or_more")}
    )
    chosen = outcomes.assign(group=group).dropna(subset=["group"])
    waits = chosen["minutes_after"].clip(lower=0)
    chi2, p_value, reason = log_rank(
        waits.tolist(), chosen["crime"].astype(bool).tolist(), chosen["group"].tolist()
    )
    rows = []
    for name in ("under_2", "10_or_more"):
        own = chosen["group"] == name
        curve = kaplan_meier(waits[own].tolist(), chosen.loc[own, "crime"].astype(bool).tolist())
        for minutes in MINUTES_AFTER:
            survival, low, high = curve.at(minutes) if curve else (None, None, None)
            rows.append(
                {
                    "visits_group": name,
                    "visits": int(own.sum()),
                    "minutes_after": minutes,
                    "survival": survival,
                    "survival_ci_low": low,
                    "survival_ci_high": high,
                    "log_rank_chi2": chi2,
                    "log_rank_p": p_value,
                    "reason": reason,
                }
            )
    return pd.DataFrame(rows)


def area_day_doses(windows: list[Window]) -> pd.DataFrame:
    """Programme area-days of every window with their crimes (all and per category), patrol
    minutes and officer-minutes on foot, in vehicles, proactive and reactive."""
    frames = []
    for window in windows:
        facts = window.facts
        days = facts.area_days.loc[facts.area_days["kind"].isin(PROGRAMME_KINDS)]
        splits = facts.presence_splits
        by_split = [
            splits.pivot_table(
                index=["area_id", "day"],
                columns=column,
                values="officer_minutes",
                aggfunc="sum",
                fill_value=0.0,
            ).add_suffix("_minutes")
            for column in ("mode", "activity")
        ]
        crimes = facts.crimes.pivot_table(
            index=["area_id", "day"], columns="category", values="crime_id", aggfunc="count"
        ).add_prefix("crimes:")
        merged = days.set_index(["area_id", "day"])[["crimes", "patrol_minutes"]]
        for extra in (*by_split, crimes):
            merged = merged.join(extra, how="left")
        frames.append(merged.reset_index())
    joined = pd.concat(frames, ignore_index=True)
    numeric = joined.columns.difference(["area_id", "day"])
    joined[numeric] = joined[numeric].fillna(0)
    return joined


DOSES = (
    ("patrol_minutes", "patrol-minutes"),
    ("foot_minutes", "officer-minutes on foot"),
    ("vehicle_minutes", "officer-minutes in vehicles"),
    ("proactive_minutes", "proactive officer-minutes"),
    ("reactive_minutes", "reactive officer-minutes"),
)
"""Each dose is fitted in its own model (they are not adjusted for one another)."""


def dose_response(windows: list[Window]) -> pd.DataFrame:
    """Q7(d): IRR per 10 minutes of each dose, for all crime (every dose) and for each category
    (patrol-minutes), over the programme area-days of the baseline and the period."""
    doses = area_day_doses(windows)
    fits = [("all", "crimes", dose, label) for dose, label in DOSES if dose in doses]
    fits += [
        (column.removeprefix("crimes:"), column, "patrol_minutes", "patrol-minutes")
        for column in sorted(c for c in doses.columns if c.startswith("crimes:"))
    ]
    rows = []
    for category, outcome, dose, label in fits:
        ratio = rate_ratio_per(doses, outcome, dose, "area_id", DOSE_PER_MINUTES)
        rows.append(
            {
                "crime_category": category,
                "dose": dose,
                "dose_label": label,
                "model": ratio.model,
                "irr_per_10_min": ratio.irr,
                "ci_low": ratio.ci_low,
                "ci_high": ratio.ci_high,
                "p_value": ratio.p_value,
                "dispersion": ratio.dispersion,
                "dispersion_p": ratio.dispersion_p,
                "area_days": ratio.observations,
                "areas": ratio.groups,
                "areas_dropped": ratio.groups_dropped,
                "reason": ratio.reason,
                "note": ratio.note,
            }
        )
    return pd.DataFrame(rows)
