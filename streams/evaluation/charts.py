"""The report's charts as inline SVG text (matplotlib, no pyplot state).

Output is deterministic: a fixed ``svg.hashsalt``, no date in the metadata, text kept as text
(``svg.fonttype`` none, so no font is embedded and none is fetched: the page's own font applies).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FormatStrFormatter, LogLocator, NullFormatter
from matplotlib.typing import RcKeyType

from streams.evaluation.statistics import SurvivalCurve

STYLE: dict[RcKeyType, Any] = {
    "svg.hashsalt": "coverwatch-report",
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}
KIND_COLOURS = {"impact": "#c0392b", "comparison": "#2c6fbb", "ring": "#7f8c8d"}
BAND_COLOURS = ("#bdbdbd", "#9ecae1", "#6baed6", "#3182bd", "#08519c", "#08306b")


def _svg(figure: Figure) -> str:
    """The figure as an ``<svg>`` element (the XML prolog and doctype dropped)."""
    buffer = io.StringIO()
    with mpl.rc_context(STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _legend(axes: Axes) -> None:
    """The legend outside the plot, to its right (it never hides a bar or a point); none when
    nothing drawn has a label."""
    if axes.get_legend_handles_labels()[0]:
        axes.legend(frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _figure(height: float = 3.0) -> tuple[Figure, Axes]:
    """A 7-inch-wide figure with one axes, drawn under the report's style."""
    with mpl.rc_context(STYLE):
        figure = Figure(figsize=(7.0, height))
        return figure, figure.add_subplot()


def grouped_bars(
    table: pd.DataFrame,
    category: str,
    value: str,
    group: str,
    label: str,
    top: int = 12,
    order_by_name: bool = False,
) -> str:
    """Horizontal bars of ``value`` per ``category`` (the ``top`` largest, largest on top, or
    every category in name order from the top), one colour per ``group`` (kind)."""
    wide = table.pivot_table(index=category, columns=group, values=value, aggfunc="sum")
    wide = wide.fillna(0.0)
    if order_by_name:
        wide = wide.sort_index(ascending=False)
    else:
        wide = wide.loc[wide.sum(axis=1).sort_values().index[-top:]]
    with mpl.rc_context(STYLE):
        figure, axes = _figure(max(1.6, 0.28 * len(wide) * max(1, len(wide.columns)) + 0.8))
        height = 0.8 / max(1, len(wide.columns))
        positions = np.arange(len(wide))
        for index, kind in enumerate(wide.columns):
            axes.barh(
                positions + index * height,
                wide[kind],
                height,
                label=str(kind),
                color=KIND_COLOURS.get(str(kind), "#555555"),
            )
        axes.set_yticks(
            positions + height * (len(wide.columns) - 1) / 2, [str(i) for i in wide.index]
        )
        axes.set_xlabel(label)
        _legend(axes)
        return _svg(figure)


def daily_lines(daily: pd.DataFrame, value: str, label: str) -> str:
    """``value`` per day, one line per kind, the baseline dashed and the period solid."""
    with mpl.rc_context(STYLE):
        figure, axes = _figure()
        for (window, kind), rows in daily.groupby(["window", "kind"]):
            axes.plot(
                pd.to_datetime(rows["day"]),
                rows[value],
                marker=".",
                linestyle="--" if window == "baseline" else "-",
                color=KIND_COLOURS.get(str(kind), "#555555"),
                label=f"{kind}, {window}",
            )
        axes.set_ylabel(label)
        _legend(axes)
        days = pd.DatetimeIndex(sorted(pd.to_datetime(daily["day"].unique())))
        shown = days[:: max(1, math.ceil(len(days) / 10))]
        axes.set_xticks(shown.to_numpy(), [day.strftime("%d %b") for day in shown])
        figure.autofmt_xdate()
        return _svg(figure)


def intervals(
    labels: Sequence[str],
    estimates: Sequence[float | None],
    lows: Sequence[float | None],
    highs: Sequence[float | None],
    label: str,
    reference: float,
    log_scale: bool,
) -> str:
    """A forest plot: each estimate with its interval, a line at ``reference``; rows without an
    estimate are left out."""
    shown: list[tuple[str, float, float, float]] = []
    for name, *values in zip(labels, estimates, lows, highs, strict=True):
        numbers = [float(value) for value in values if value is not None]
        if len(numbers) == 3 and all(math.isfinite(number) for number in numbers):
            shown.append((name, numbers[0], numbers[1], numbers[2]))
    with mpl.rc_context(STYLE):
        figure, axes = _figure(max(1.4, 0.3 * len(shown) + 0.8))
        for row, (_, est, low, high) in enumerate(shown):
            axes.plot([low, high], [row, row], color="#333333")
            axes.plot([est], [row], marker="o", color="#c0392b")
        axes.axvline(reference, color="#999999", linestyle=":")
        axes.set_yticks(range(len(shown)), [name for name, *_ in shown])
        axes.invert_yaxis()  # the first row on top
        if log_scale:
            axes.set_xscale("log")
            axes.xaxis.set_major_locator(LogLocator(base=2))
            axes.xaxis.set_major_formatter(FormatStrFormatter("%g"))
            axes.xaxis.set_minor_formatter(NullFormatter())
        axes.set_xlabel(label)
        return _svg(figure)


def survival(curves: Mapping[str, SurvivalCurve | None], horizon_minutes: float) -> str:
    """The Kaplan-Meier step curves of the duration bands up to ``horizon_minutes``."""
    with mpl.rc_context(STYLE):
        figure, axes = _figure()
        for (band, curve), colour in zip(curves.items(), BAND_COLOURS, strict=True):
            if curve is None:
                continue
            times = np.concatenate([[0.0], curve.times[curve.times <= horizon_minutes]])
            values = np.concatenate([[1.0], curve.survival[curve.times <= horizon_minutes]])
            axes.step(
                np.append(times, horizon_minutes),
                np.append(values, values[-1]),
                where="post",
                color=colour,
                label=f"{band} min ({curve.subjects} visits)",
            )
        axes.set_xlabel("minutes after the visit ended")
        axes.set_ylabel("share of visits with no crime yet")
        axes.set_ylim(0, 1.02)
        _legend(axes)
        return _svg(figure)


def scatter(table: pd.DataFrame, x: str, y: str, xlabel: str, ylabel: str) -> str:
    """One point per row, coloured by ``kind``."""
    with mpl.rc_context(STYLE):
        figure, axes = _figure()
        for kind, rows in table.groupby("kind"):
            axes.scatter(
                rows[x],
                rows[y],
                s=18,
                label=str(kind),
                color=KIND_COLOURS.get(str(kind), "#555555"),
            )
        axes.set_xlabel(xlabel)
        axes.set_ylabel(ylabel)
        _legend(axes)
        return _svg(figure)
