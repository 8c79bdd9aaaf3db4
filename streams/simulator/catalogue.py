"""The simulated force's fixed vocabulary and numbers: the step, roles, CAD grades, crime and
stop-search categories, speeds and activities, and the array types the world is kept in."""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

STEP_MS: Final = 5000
"""Simulated milliseconds per step; fixes and events within a step keep their own times."""
ENDLESS_MS: Final = 2**62
"""The end of an endless simulation: far beyond any run (a ``range`` to it is lazy)."""
STUCK_WITHIN_MS: Final = 86_400_000
"""Devices that get stuck do so within the first simulated day (or the run, if shorter)."""
DAY_S: Final = 86_400
ROLES: Final = ("response", "neighbourhood", "roads", "offender_management", "partnership")
ROLE_SHARES: Final = (0.45, 0.30, 0.07, 0.08, 0.10)
RESPONSE, NEIGHBOURHOOD, ROADS, OFFENDER_MANAGEMENT, PARTNERSHIP = range(5)
UNIT_LABELS: Final = ("Response", "NPT", "Roads Policing", "IOM", "Partnerships")
STATION_LETTERS: Final = "ABCDEF"
GRADES: Final = ("immediate", "priority", "scheduled", "resolution")
GRADE_SHARES: Final = (0.15, 0.35, 0.30, 0.20)
INCIDENT_CATEGORIES: Final = (
    "assault", "domestic", "burglary", "theft", "robbery", "antisocial_behaviour",
    "concern_for_welfare", "road_traffic_collision", "suspicious_activity", "public_order",
    "vehicle_crime", "drugs",
)  # fmt: skip
CRIME_OF_INCIDENT: Final = {
    "assault": "violence_against_the_person", "domestic": "violence_against_the_person",
    "burglary": "burglary", "theft": "theft", "robbery": "robbery",
    "public_order": "public_order", "vehicle_crime": "vehicle_offences", "drugs": "drugs",
}  # fmt: skip
CALL_OF_CRIME: Final = {
    "violence_against_the_person": "assault", "burglary": "burglary", "robbery": "robbery",
    "theft": "theft", "vehicle_offences": "vehicle_crime",
    "criminal_damage": "antisocial_behaviour", "drugs": "drugs", "public_order": "public_order",
    "possession_of_weapons": "suspicious_activity",
}  # fmt: skip
"""The CAD incident category of a call reporting a crime of each category."""
CRIME_CATEGORIES: Final = (
    "violence_against_the_person", "burglary", "robbery", "theft", "vehicle_offences",
    "criminal_damage", "drugs", "public_order", "possession_of_weapons",
)  # fmt: skip
SEARCH_OBJECTS: Final = (
    "controlled_drugs",
    "offensive_weapons",
    "stolen_goods",
    "going_equipped",
    "firearms",
)
SEARCH_OBJECT_SHARES: Final = (0.60, 0.17, 0.12, 0.09, 0.02)
SEARCH_OUTCOMES: Final = (
    "no_further_action", "arrest", "community_resolution", "summons", "caution", "penalty_notice",
)  # fmt: skip
SEARCH_OUTCOME_SHARES: Final = (0.70, 0.14, 0.08, 0.03, 0.02, 0.03)
FOOT_SPEED_MPS: Final = (1.0, 1.6)
PATROL_SPEED_MPS: Final = (7.0, 14.0)
DISPATCH_SPEED_MPS: Final = {
    "immediate": (15.0, 22.0),
    "priority": (10.0, 15.0),
    "scheduled": (8.0, 12.0),
}
MAX_FOOT_SPEED_MPS: Final = max(FOOT_SPEED_MPS)
MAX_VEHICLE_SPEED_MPS: Final = max(high for _, high in DISPATCH_SPEED_MPS.values())

PATROL, TO_INCIDENT, AT_INCIDENT = 0, 1, 2
"""What an officer is doing: on patrol, driving to an incident, at an incident."""
