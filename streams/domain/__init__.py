"""Pure domain logic: no Faust, Redis, Prometheus, asyncio, environment or wall clock.

Time always comes in as an argument (seconds since the Unix epoch, UTC, as ``float``).
"""
