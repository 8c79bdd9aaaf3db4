"""The reference tables in Redis (roster, area definitions): how one decoded entry changes them.

The roster and areas agents apply these as the entries arrive; ``coverwatch rebuild`` applies
them to load both tables from their topics before the workers re-read the rest.
"""

from __future__ import annotations

import orjson

from streams.domain.areas import AreaDefinition, area_to_feature
from streams.domain.areas_feed import AreaRemoved
from streams.domain.roster import RosterEntry, RosterRemoved
from streams.state import Changes, State


def roster_change(state: State, changes: Changes, item: RosterEntry | RosterRemoved) -> None:
    """Store or remove a radio's roster entry, its versions by event time (the presence join) and
    its on-duty membership."""
    if isinstance(item, RosterRemoved):
        changes.hdel_versioned(state.roster_key, item.issi, state.roster_version_key)
        state.forget_roster_versions(changes, item.issi)
        changes.srem(state.on_duty_key, item.issi)
    else:
        entry = orjson.dumps(item.stored()).decode()
        changes.hset_versioned(state.roster_key, item.issi, entry, state.roster_version_key)
        state.record_roster_version(changes, item.issi, item.ts, entry)
        if item.on_duty:
            changes.sadd(state.on_duty_key, item.issi)
        else:
            changes.srem(state.on_duty_key, item.issi)


def area_change(state: State, changes: Changes, item: AreaDefinition | AreaRemoved) -> None:
    """Store or remove an area definition (the workers' fence indexes follow its version)."""
    if isinstance(item, AreaRemoved):
        changes.hdel_versioned(state.area_features_key, item.area_id, state.area_version_key)
    else:
        feature = orjson.dumps(area_to_feature(item)).decode()
        changes.hset_versioned(
            state.area_features_key, item.area_id, feature, state.area_version_key
        )
