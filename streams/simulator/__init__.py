"""The simulated force: seeded, pure generators of input traffic, and a publisher (I/O).

- :mod:`streams.simulator.geography`: local projection and the illustrative default area pack.
- :mod:`streams.simulator.world`: :func:`~streams.simulator.world.generate`, the deterministic
  stream of roster, Airwave, CAD, crime, stop-search, area and clock messages.
- :mod:`streams.simulator.recording`: the JSONL replay format.
- :mod:`streams.simulator.publisher`: writing records to a file or a Kafka broker.
"""
