"""The archive's rows as the facts count them, queried with DuckDB from the registered tables
(:class:`streams.evaluation.archive_read.Archive`): final visits, crimes, incidents collapsed to
one row each, and stop-searches. Timestamps come back as pandas UTC datetimes. Every query ends in
an ORDER BY on its id: DuckDB's threads return rows in any order, and the facts' sums over them
would then differ in their last bits from one run to the next.
"""

from __future__ import annotations

import duckdb
import pandas as pd

FINAL_VISITS_SQL = """
    SELECT visit_id, area_id, officer, role, unit, mode, activity, incident_category,
           coalesce(stop_search, false) AS stop_search, start, "end", seconds,
           coalesce(qualifying, false) AS qualifying,
           coalesce(drive_through, false) AS drive_through,
           coalesce(inferred, false) AS inferred, status
    FROM visits
    QUALIFY row_number() OVER (
        PARTITION BY visit_id ORDER BY revision DESC, source_offset DESC) = 1
    ORDER BY visit_id
"""

INCIDENTS_SQL = """
    SELECT incident_id,
           min(ts) FILTER (WHERE event = 'opened') AS opened,
           min(ts) FILTER (WHERE event = 'assigned') AS assigned,
           min(ts) FILTER (WHERE event = 'arrived') AS arrived,
           max(ts) FILTER (WHERE event = 'closed') AS closed,
           arg_max(grade, ts) FILTER (WHERE grade IS NOT NULL) AS grade,
           arg_min(category, ts) FILTER (WHERE event = 'opened') AS category,
           arg_min(lon, ts) FILTER (WHERE event = 'opened') AS lon,
           arg_min(lat, ts) FILTER (WHERE event = 'opened') AS lat
    FROM incident_events
    GROUP BY incident_id
    HAVING opened IS NOT NULL
    ORDER BY incident_id
"""

CRIMES_SQL = """
    SELECT crime_id, ts, category, lon, lat, incident_id FROM crimes
    QUALIFY row_number() OVER (PARTITION BY crime_id ORDER BY source_offset DESC) = 1
    ORDER BY crime_id
"""

STOP_SEARCHES_SQL = """
    SELECT id, ts, object_of_search, outcome, callsign, lon, lat FROM stop_searches
    QUALIFY row_number() OVER (PARTITION BY id ORDER BY source_offset DESC) = 1
    ORDER BY id
"""


def final_visits(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """Each visit's final revision (the highest revision, then the latest offset), kept only
    when it is ``closed``: ``retracted`` visits did not happen and ``open`` ones have no end."""
    visits = connection.execute(FINAL_VISITS_SQL).df()
    return visits[visits["status"] == "closed"].drop(columns="status").reset_index(drop=True)


def incidents(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per incident with an ``opened`` event: the first opened, assigned and arrived
    times, the last closed time (null when not seen), the latest grade given, and the opening
    category and place."""
    return connection.execute(INCIDENTS_SQL).df()


def crimes(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per crime_id (a re-recorded crime counts once, as last recorded)."""
    return connection.execute(CRIMES_SQL).df()


def stop_searches(connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """One row per stop-search id (as last recorded)."""
    return connection.execute(STOP_SEARCHES_SQL).df()
