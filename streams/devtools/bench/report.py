"""The run's report: the table and what limits the rate, and the JSON results file."""

from __future__ import annotations

import json
import math
import os
import platform
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from streams.devtools.bench.plan import Plan
from streams.devtools.bench.probes import Window
from streams.devtools.bench.replay import ReplayResult
from streams.devtools.bench.support import Row, format_table
from streams.domain.timefmt import format_ts


def to_json(value: Any) -> Any:
    """Dataclasses and dict keys made JSON-friendly."""
    if isinstance(value, ReplayResult | Window):
        out = to_json(asdict(value))
        if isinstance(value, ReplayResult):
            out["us_per_ping"] = value.us_per_ping
            out["cpu_us_per_ping"] = value.cpu_us_per_ping
        return out
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_report(rows: Sequence[Row], limits: Sequence[str]) -> None:
    """The table and what limits the rate, on the console."""
    print()
    print(format_table(rows))
    if limits:
        print("\nWhat limits the rate:")
        for line in limits:
            print(f"  {line}")


def write_document(
    out: Path,
    plan: Plan,
    started: float,
    published: int,
    report: tuple[Sequence[Row], Sequence[str]],
    profiles: Mapping[str, Any],
    results: Mapping[str, Any],
) -> None:
    """The JSON results file: the machine, the plan, the rows and every raw result."""
    rows, limits = report
    document = {
        "version": 1,
        "quick": plan.quick,
        "started": format_ts(started),
        "seconds": round(time.time() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "plan": to_json(asdict(plan)),
        "messages_published": published,
        "rows": [row.as_json() for row in rows],
        "limits": list(limits),
        "profiles": to_json(profiles),
        "results": to_json(results),
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document, indent=2) + "\n")
