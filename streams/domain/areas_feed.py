"""``areas.definitions`` messages: an area Feature, or a tombstone that removes the area."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from streams.domain.areas import AreaDefinition, parse_area_feature
from streams.domain.coverage import CoveragePolicyError, policy_for
from streams.domain.validation import Rejected, TimeLimits, check_key, parse_object


@dataclass(frozen=True, slots=True)
class AreaRemoved:
    """A tombstone: area ``area_id`` is withdrawn."""

    area_id: str


def decode_area(
    key: bytes | None, raw: bytes | None, limits: TimeLimits
) -> AreaDefinition | AreaRemoved:
    """One ``areas.definitions`` message, or :class:`Rejected` naming what is wrong."""
    if raw is None:
        if key is None:
            raise Rejected("invalid_schema", "an area tombstone needs the area_id as its key")
        return AreaRemoved(key.decode("utf-8", "replace"))
    value = parse_object(raw, "areas.definitions", limits)
    value.pop("schema", None)
    area = parse_area_feature(value)
    check_key(key, area.area_id, "id")
    try:
        policy_for(area)  # a policy the evaluator cannot use must not reach it
    except CoveragePolicyError as problem:
        raise Rejected("invalid_schema", str(problem)) from None
    return area


def decode_stored_area(feature_json: bytes) -> AreaDefinition:
    """An area as stored in Redis by the areas agent (already validated)."""
    return parse_area_feature(orjson.loads(feature_json))
