"""The report's descriptive tables: questions 1 to 6 and 8, one function per table.

Each function takes the facts of a window (contract C: the frames of ``load_facts``) and returns
a DataFrame whose columns are the CSV's. Areas are the programme's Impact Areas and comparison
areas (``kind``); rings appear only where a table says so. Officers are pseudonyms and are only
ever counted (distinct), never listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

import pandas as pd

from streams.evaluation.statistics import proportion, spearman

PROGRAMME_KINDS = ("impact", "comparison")
"""The kinds of area the programme compares (rings are for displacement only)."""

Q1_COLUMNS = [
    "area_id",
    "kind",
    "day",
    "officer_minutes",
    "patrol_minutes",
    "visits",
    "qualifying_visits",
    "drive_throughs",
    "met_policy",
]
Q8_COLUMNS = ["area_id", "kind", "calls", "crimes", "calls_per_crime"]


class FactsFrames(Protocol):
    """The frames of contract C's ``Facts`` that the report reads."""

    @property
    def areas(self) -> pd.DataFrame: ...
    @property
    def visits(self) -> pd.DataFrame: ...
    @property
    def crimes(self) -> pd.DataFrame: ...
    @property
    def incidents(self) -> pd.DataFrame: ...
    @property
    def stop_searches(self) -> pd.DataFrame: ...
    @property
    def area_days(self) -> pd.DataFrame: ...
    @property
    def presence_splits(self) -> pd.DataFrame: ...
    @property
    def hour_bands(self) -> pd.DataFrame: ...


@dataclass(frozen=True)
class Window:
    """The facts of one window of days (the period or the baseline), first and last inclusive."""

    name: str
    first: date
    last: date
    facts: FactsFrames

    @property
    def days(self) -> int:
        """How many days the window spans."""
        return (self.last - self.first).days + 1


def kind_of(facts: FactsFrames) -> dict[str, str]:
    """Area or ring id -> its kind."""
    return dict(zip(facts.areas["area_id"], facts.areas["kind"], strict=True))


def in_programme(frame: pd.DataFrame, facts: FactsFrames) -> pd.DataFrame:
    """The rows of ``frame`` in an Impact Area or comparison area, with their ``kind``."""
    kinds = frame["area_id"].map(kind_of(facts))
    return frame.assign(kind=kinds).loc[kinds.isin(PROGRAMME_KINDS)]


def officer_time(period: Window) -> pd.DataFrame:
    """Q1 (contract): presence per programme area-day of the period."""
    days = period.facts.area_days
    rows = days.loc[days["kind"].isin(PROGRAMME_KINDS), Q1_COLUMNS]
    return rows.sort_values(["kind", "area_id", "day"], kind="stable").reset_index(drop=True)


def officer_time_summary(windows: list[Window]) -> pd.DataFrame:
    """Q1 by kind and window: totals, per km² per day, per area-day, and fidelity (the share
    of area-days that met the area's policy, with its Wilson interval)."""
    rows = []
    for window in windows:
        days = window.facts.area_days
        km2 = window.facts.areas.set_index("area_id")["km2"]
        for kind in PROGRAMME_KINDS:
            own = days.loc[days["kind"] == kind]
            area_km2 = float(km2.reindex(own["area_id"].unique()).sum())
            judged = own["met_policy"].dropna().astype(bool)
            fidelity = proportion(int(judged.sum()), len(judged))
            officer, patrol = (
                float(own["officer_minutes"].sum()),
                float(own["patrol_minutes"].sum()),
            )
            rows.append(
                {
                    "window": window.name,
                    "kind": kind,
                    "areas": own["area_id"].nunique(),
                    "area_days": len(own),
                    "officer_minutes": officer,
                    "patrol_minutes": patrol,
                    "officer_minutes_per_area_day": officer / len(own) if len(own) else None,
                    "patrol_minutes_per_area_day": patrol / len(own) if len(own) else None,
                    "officer_minutes_per_km2_day": _per(officer, area_km2 * window.days),
                    "patrol_minutes_per_km2_day": _per(patrol, area_km2 * window.days),
                    "fidelity": fidelity.share,
                    "fidelity_ci_low": fidelity.ci_low,
                    "fidelity_ci_high": fidelity.ci_high,
                }
            )
    return pd.DataFrame(rows)


def hour_bands(period: Window) -> pd.DataFrame:
    """Q1 by time of day: presence and demand per kind and local hour band over the period."""
    bands = in_programme(period.facts.hour_bands, period.facts)
    columns = ["officer_minutes", "patrol_minutes", "crimes", "incidents", "stop_searches"]
    return bands.groupby(["kind", "hour_band"], observed=True)[columns].sum().reset_index()


def _per(value: float, over: float) -> float | None:
    """value / over, None when over is 0."""
    return value / over if over > 0 else None


def resources(period: Window) -> pd.DataFrame:
    """Q2: distinct (pseudonymous) officers, visits and officer-minutes by kind, role and unit,
    with an ``all`` role/unit row per kind (distinct officers do not add up across rows)."""
    visits = in_programme(period.facts.visits, period.facts).assign(
        officer_minutes=lambda v: v["seconds"] / 60
    )
    detail = _officer_counts(visits, ["kind", "role", "unit"])
    total = _officer_counts(visits, ["kind"]).assign(role="all", unit="all")
    return pd.concat([detail, total[detail.columns]], ignore_index=True)


def _officer_counts(visits: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Distinct officers, visits and minutes per group of ``keys``."""
    grouped = visits.groupby(keys, dropna=False, observed=True)
    return grouped.agg(
        officers=("officer", "nunique"),
        visits=("visit_id", "count"),
        officer_minutes=("officer_minutes", "sum"),
    ).reset_index()


def activities(period: Window) -> pd.DataFrame:
    """Q3: visits and officer-minutes by kind and activity (reactive split by the incident
    category attended), and of those the visits and minutes with a stop-search."""
    visits = in_programme(period.facts.visits, period.facts).assign(
        officer_minutes=lambda v: v["seconds"] / 60,
        incident_category=lambda v: (
            v["incident_category"].where(v["activity"] == "reactive", "").fillna("unknown")
        ),
        stop_search_minutes=lambda v: v["seconds"].where(_flag(v["stop_search"]), 0) / 60,
    )
    grouped = visits.groupby(["kind", "activity", "incident_category"], observed=True)
    return grouped.agg(
        visits=("visit_id", "count"),
        officer_minutes=("officer_minutes", "sum"),
        stop_search_visits=("stop_search", "sum"),
        stop_search_minutes=("stop_search_minutes", "sum"),
    ).reset_index()


def _flag(values: pd.Series) -> pd.Series:
    """A boolean column with missing read as False."""
    return values.fillna(False).astype(bool)


def modes(period: Window) -> pd.DataFrame:
    """Q4: foot and vehicle officer-minutes and visits by kind and hour band, with the share of
    the kind's minutes."""
    splits = in_programme(period.facts.presence_splits, period.facts)
    table = (
        splits.groupby(["kind", "mode"], observed=True)[["officer_minutes", "visits"]]
        .sum()
        .reset_index()
    )
    totals = table.groupby("kind")["officer_minutes"].transform("sum")
    return table.assign(share_of_minutes=(table["officer_minutes"] / totals).where(totals > 0))


def crimes_by_category(period: Window) -> pd.DataFrame:
    """Q5: crimes and harm by kind (rings included) and category."""
    crimes = period.facts.crimes.assign(kind=lambda c: c["area_id"].map(kind_of(period.facts)))
    grouped = crimes.groupby(["kind", "category"], observed=True)
    return grouped.agg(crimes=("crime_id", "count"), harm=("harm", "sum")).reset_index()


def incidents_by_grade(period: Window) -> pd.DataFrame:
    """Q5: incidents by kind, grade and category."""
    incidents = in_programme(period.facts.incidents, period.facts)
    grouped = incidents.groupby(["kind", "grade", "category"], observed=True)
    return grouped.agg(incidents=("incident_id", "count")).reset_index()


def stop_searches(period: Window) -> pd.DataFrame:
    """Q6: stop-searches by kind, object of search and outcome."""
    searches = in_programme(period.facts.stop_searches, period.facts)
    grouped = searches.groupby(["kind", "object_of_search", "outcome"], observed=True)
    return grouped.agg(stop_searches=("id", "count")).reset_index()


def calls_vs_crime(period: Window) -> pd.DataFrame:
    """Q8 (contract): calls (incidents opened) and recorded crimes per programme area over the
    period; calls_per_crime empty where there was no crime."""
    facts = period.facts
    areas = facts.areas.loc[facts.areas["kind"].isin(PROGRAMME_KINDS), ["area_id", "kind"]]
    calls = facts.incidents.groupby("area_id")["incident_id"].nunique()
    crimes = facts.crimes.groupby("area_id")["crime_id"].nunique()
    table = areas.assign(
        calls=areas["area_id"].map(calls).fillna(0).astype(int),
        crimes=areas["area_id"].map(crimes).fillna(0).astype(int),
    )
    ratio = (table["calls"] / table["crimes"]).where(table["crimes"] > 0)
    return table.assign(calls_per_crime=ratio)[Q8_COLUMNS].sort_values(["kind", "area_id"])


def calls_vs_crime_by_day(period: Window) -> pd.DataFrame:
    """Q8: calls and crimes per day over the programme areas."""
    facts = period.facts
    days = pd.Index(sorted(facts.area_days["day"].unique()), name="day")
    calls = in_programme(facts.incidents, facts).groupby("day")["incident_id"].nunique()
    crimes = in_programme(facts.crimes, facts).groupby("day")["crime_id"].nunique()
    table = pd.DataFrame(
        {"calls": calls.reindex(days, fill_value=0), "crimes": crimes.reindex(days, fill_value=0)}
    ).reset_index()
    return table.assign(
        calls_per_crime=(table["calls"] / table["crimes"]).where(table["crimes"] > 0)
    )


def call_crime_correlation(period: Window) -> pd.DataFrame:
    """Q8: Spearman's rho between calls and crimes of each category (and all crime), across the
    programme areas (period totals) and across days (programme totals)."""
    facts = period.facts
    crimes = in_programme(facts.crimes, facts)
    incidents = in_programme(facts.incidents, facts)
    areas = facts.areas.loc[facts.areas["kind"].isin(PROGRAMME_KINDS), "area_id"]
    days = pd.Index(sorted(facts.area_days["day"].unique()))
    rows = []
    for category in ["all", *sorted(crimes["category"].dropna().unique())]:
        chosen = crimes if category == "all" else crimes.loc[crimes["category"] == category]
        for scope, key, index in (("across_areas", "area_id", areas), ("across_days", "day", days)):
            calls = incidents.groupby(key)["incident_id"].nunique().reindex(index, fill_value=0)
            counts = chosen.groupby(key)["crime_id"].nunique().reindex(index, fill_value=0)
            result = spearman(calls.tolist(), counts.tolist())
            rows.append(
                {
                    "scope": scope,
                    "crime_category": category,
                    "n": result.n,
                    "rho": result.rho,
                    "p_value": result.p_value,
                    "reason": result.reason,
                }
            )
    return pd.DataFrame(rows)


def linked_crimes(period: Window) -> pd.DataFrame:
    """Q8: the share of the programme areas' crimes linked to an incident, by category and for
    all crime, with Wilson intervals."""
    crimes = in_programme(period.facts.crimes, period.facts).drop_duplicates("crime_id")
    rows = []
    for category in ["all", *sorted(crimes["category"].dropna().unique())]:
        chosen = crimes if category == "all" else crimes.loc[crimes["category"] == category]
        linked = int(chosen["incident_id"].notna().sum())
        share = proportion(linked, len(chosen))
        rows.append(
            {
                "crime_category": category,
                "crimes": len(chosen),
                "linked": linked,
                "share": share.share,
                "ci_low": share.ci_low,
                "ci_high": share.ci_high,
            }
        )
    return pd.DataFrame(rows)
