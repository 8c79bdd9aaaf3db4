"""The simulated force: seeded, pure generators of input traffic, and a publisher (I/O).

- :mod:`streams.simulator.geography`: local projection and the illustrative default area pack.
- :mod:`streams.simulator.world`: :func:`~streams.simulator.world.generate`, the deterministic
  stream of roster, Airwave, CAD, crime, stop-search, area and clock messages, stepping:
  - :mod:`streams.simulator.options`: what shapes a run, and the records it yields;
  - :mod:`streams.simulator.catalogue`: roles, grades, categories, speeds, the step;
  - :mod:`streams.simulator.places`: point pools, beats and stations in local metres;
  - :mod:`streams.simulator.force`: the officers (roster, shifts, home patches);
  - :mod:`streams.simulator.patrols`: where officers are and go (legs, movement);
  - :mod:`streams.simulator.radios`: ping schedules, faults and fixes;
  - :mod:`streams.simulator.demand_generator`: CAD incidents and dispatch, crimes, stop-searches;
  - :mod:`streams.simulator.outbox`: records queued in delivery order;
  - :mod:`streams.simulator.effects`: area crime and planted effects (deterrence after
    qualifying visits, displacement into the rings, directed patrols from an effect day);
  - :mod:`streams.simulator.truth`: their ground truth, for tests
    (:func:`~streams.simulator.world.generate_with_truth`).
- :mod:`streams.simulator.recording`: the JSONL replay format.
- :mod:`streams.simulator.publisher`: writing records to a file or a Kafka broker.
"""
