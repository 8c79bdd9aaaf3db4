"""The coverage clock: evaluates coverage every two seconds (less often while evaluating takes
more than half the time), whether data arrives or not; each evaluation judges the areas that can
have changed."""

from __future__ import annotations

from streams.engines.batches import on_the_clock
from streams.engines.coverage import EVALUATE_EVERY_S, CoverageEngine
from streams.engines.runtime import Runtime


def register(runtime: Runtime) -> CoverageEngine:
    """Attach the coverage timer."""
    engine = CoverageEngine(runtime)

    @runtime.app.timer(EVALUATE_EVERY_S, name="evaluate_coverage")  # type: ignore[untyped-decorator]
    async def evaluate_coverage() -> None:
        if runtime.store.usable:
            await on_the_clock(runtime, "evaluate_coverage", engine.tick)

    return engine
