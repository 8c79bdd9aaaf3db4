"""The engines: presence (visits and dose), demand and coverage, and what the worker runs them on.

Each engine takes decoded input from its agents (:mod:`streams.agents`), hands the meaning of it
to the pure domain (:mod:`streams.domain`) and commits the result to Redis
(:mod:`streams.state`) and to the output topics (:mod:`streams.kafka`).
"""
