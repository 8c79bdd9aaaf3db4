"""Faust agents and timers: wiring only (decode, call the domain, write state, emit, count)."""

from __future__ import annotations

from streams.agents import coverage, demand, pings, reference
from streams.engines.runtime import Runtime


def register(runtime: Runtime) -> None:
    """Attach every agent and timer to ``runtime.app``."""
    pings.register(runtime)
    reference.register(runtime)
    demand.register(runtime)
    coverage.register(runtime)
