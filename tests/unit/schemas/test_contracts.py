"""The output contracts match the data: the examples are what the code makes, the schemas are
closed, and the fields the code emits are the fields the schemas define."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from typing import Any

import pytest
from jsonschema import Draft202012Validator

import schemas
from streams.devtools.examples.evening import play
from streams.devtools.examples.files import EXAMPLES_DIR, outdated
from streams.domain.demand import DEMAND_WINDOWS
from streams.domain.incidents import GRADE_LABELS, GRADES
from streams.domain.roster import ROLES
from streams.domain.snapshots import DEMAND_WINDOW_NAMES, WINDOW_NAMES

COMMON = "../common/1#"
FREE_TEXT_MAPS = {
    ("area.snapshots", "/$defs/counts_by_text"),
    ("area.snapshots", "/$defs/officer_counts_by_unit"),
    ("area.snapshots", "/$defs/amounts_by_unit"),
}
"""The only objects keyed by input data that no enumeration bounds (crime categories and objects
of search as received, roster units): closed with ``additionalProperties: false`` all the same,
their keys held by a pattern to the inputs' text rule."""

SCHEMA_IN = ("$defs", "properties", "patternProperties")
SCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
SCHEMA_ONE = ("items", "additionalProperties", "propertyNames", "if", "then", "else", "not")


@cache
def generated() -> dict[str, dict[str, dict[str, object]]]:
    """Every output topic's generated example values by file stem (made once per session)."""
    return play()


def _subschemas(schema: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """(JSON pointer, subschema) for ``schema`` and every schema nested in it."""
    yield pointer, schema
    if not isinstance(schema, dict):
        return
    for keyword in SCHEMA_IN:
        for name, subschema in schema.get(keyword, {}).items():
            yield from _subschemas(subschema, f"{pointer}/{keyword}/{name}")
    for keyword in SCHEMA_LISTS:
        for index, subschema in enumerate(schema.get(keyword, [])):
            yield from _subschemas(subschema, f"{pointer}/{keyword}/{index}")
    for keyword in SCHEMA_ONE:
        if keyword in schema:
            yield from _subschemas(schema[keyword], f"{pointer}/{keyword}")


def _resolve(document: str, schema: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    """Follow ``$ref``s from ``schema`` (in ``document``) to (document, pointer, schema)."""
    pointer = ""
    while "$ref" in schema:
        ref: str = schema["$ref"]
        if ref.startswith(COMMON):
            document, ref = "common", ref.removeprefix("../common/1")
        pointer = ref.removeprefix("#")
        schema = schemas.load_schema(document)
        for token in pointer.strip("/").split("/") if pointer else []:
            schema = schema[token]
    return document, pointer, schema


def _object_keys(
    document: str, pointer: str, schema: dict[str, Any], value: Any, seen: dict[Any, set[str]]
) -> None:
    """Record, for every object schema ``value`` meets, the keys it had (``seen``)."""
    if "$ref" in schema:
        document, pointer, schema = _resolve(document, schema)
    if isinstance(value, dict) and ("properties" in schema or "patternProperties" in schema):
        seen[(document, pointer)] |= set(value)
        for key, item in value.items():
            if key in schema.get("properties", {}):
                inner = schema["properties"][key]
                _object_keys(document, f"{pointer}/properties/{key}", inner, item, seen)
            for pattern, inner in schema.get("patternProperties", {}).items():
                _object_keys(document, f"{pointer}/patternProperties/{pattern}", inner, item, seen)
    for index, branch in enumerate(schema.get("anyOf", [])):
        if value is not None and branch != {"type": "null"}:
            _object_keys(document, f"{pointer}/anyOf/{index}", branch, value, seen)


def _emitted_keys(topic: str) -> dict[Any, set[str]]:
    """The keys of every object of the generated examples, by the object schema they meet."""
    seen: dict[Any, set[str]] = defaultdict(set)
    for value in generated()[topic].values():
        _object_keys(topic, "", schemas.load_schema(topic), value, seen)
    return seen


def _record_objects(topic: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The object schemas of a topic's schema with named fields (not keyed by data values)."""
    return {
        (topic, pointer): subschema
        for pointer, subschema in _subschemas(schemas.load_schema(topic))
        if isinstance(subschema, dict)
        and "properties" in subschema
        and "propertyNames" not in subschema
        and subschema.get("type") == "object"
    }


def _keyed_objects() -> list[tuple[str, str, dict[str, Any]]]:
    """The object schemas keyed by a data value: their ``propertyNames`` name the enumeration."""
    return [
        (name, pointer, subschema)
        for name in schemas.SCHEMA_NAMES
        for pointer, subschema in _subschemas(schemas.load_schema(name))
        if isinstance(subschema, dict) and "propertyNames" in subschema
    ]


# --- the examples are generated ---------------------------------------------------------------


def test_the_committed_examples_are_the_generated_ones() -> None:
    assert outdated() == [], "run `python -m streams.devtools.examples` and commit the result"


@pytest.mark.parametrize("topic", schemas.OUTPUT_TOPICS)
def test_every_generated_example_validates(topic: str) -> None:
    for name, value in generated()[topic].items():
        assert schemas.validation_errors(topic, value) == [], name


@pytest.mark.parametrize("topic", schemas.OUTPUT_TOPICS)
def test_every_output_example_file_is_generated(topic: str) -> None:
    files = {path.stem for path in (EXAMPLES_DIR / topic).glob("*.json")}

    assert files == set(generated()[topic])


@pytest.mark.parametrize("topic", schemas.OUTPUT_TOPICS)
def test_the_output_schemas_examples_are_generated_examples(topic: str) -> None:
    embedded = schemas.load_schema(topic)["examples"]

    assert isinstance(embedded, list)
    assert embedded
    for example in embedded:
        assert example in generated()[topic].values()


def test_the_examples_do_not_depend_on_when_they_are_made() -> None:
    assert json.dumps(play()) == json.dumps(generated())


# --- the schemas are closed -------------------------------------------------------------------


@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_no_schema_has_an_open_map(name: str) -> None:
    open_objects = [
        pointer or "/"
        for pointer, subschema in _subschemas(schemas.load_schema(name))
        if isinstance(subschema, dict)
        and (subschema.get("type") == "object" or "additionalProperties" in subschema)
        and subschema.get("additionalProperties") is not False
    ]

    assert open_objects == []


@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_pattern_keyed_objects_are_only_the_free_text_maps(name: str) -> None:
    patterned = {
        (name, pointer)
        for pointer, subschema in _subschemas(schemas.load_schema(name))
        if isinstance(subschema, dict) and "patternProperties" in subschema
    }

    assert patterned <= FREE_TEXT_MAPS


def test_the_free_text_keys_follow_the_inputs_text_rule() -> None:
    counts = schemas.load_schema("area.snapshots")["$defs"]["counts_by_text"]  # type: ignore[index]
    checker = Draft202012Validator(
        {"$ref": "https://coverwatch.example/schemas/area.snapshots/1#/$defs/counts_by_text"},
        registry=schemas.registry(),
    )

    assert list(counts["patternProperties"]) == ["^[\\s\\S]{1,256}$"]
    assert checker.is_valid({"Burglary - residential": 2.0, "x" * 256: 1.0})
    assert not checker.is_valid({"x" * 257: 1.0})
    assert not checker.is_valid({"": 1.0})
    assert not checker.is_valid({"Robbery": -1.0})


def test_the_unit_keys_follow_the_rosters_unit_rule() -> None:
    checker = Draft202012Validator(
        {
            "$ref": "https://coverwatch.example/schemas/area.snapshots/1#/$defs/officer_counts_by_unit"
        },
        registry=schemas.registry(),
    )

    assert checker.is_valid({"Birmingham East NPT": 2, "x" * 128: 1})
    assert not checker.is_valid({"x" * 129: 1})
    assert not checker.is_valid({"": 1})
    assert not checker.is_valid({"Birmingham East NPT": 0})


# --- the emitted shape, the schemas and the examples agree ------------------------------------


@pytest.mark.parametrize("topic", schemas.OUTPUT_TOPICS)
def test_every_field_a_schema_defines_is_emitted(topic: str) -> None:
    emitted = _emitted_keys(topic)
    never_emitted = {
        pointer or "/": sorted(set(subschema["properties"]) - emitted[(document, pointer)])
        for (document, pointer), subschema in _record_objects(topic).items()
        if set(subschema["properties"]) - emitted[(document, pointer)]
    }

    assert never_emitted == {}


@pytest.mark.parametrize("topic", schemas.OUTPUT_TOPICS)
def test_every_field_emitted_is_defined(topic: str) -> None:
    undefined = {}
    for (document, pointer), keys in _emitted_keys(topic).items():
        _, _, subschema = _resolve(document, {"$ref": f"#{pointer}"})
        defined = set(subschema.get("properties", {}))
        if "patternProperties" not in subschema and keys - defined:
            undefined[pointer or "/"] = sorted(keys - defined)

    assert undefined == {}


@pytest.mark.parametrize(("name", "pointer", "subschema"), _keyed_objects())
def test_objects_keyed_by_a_value_list_exactly_that_values_keys(
    name: str, pointer: str, subschema: dict[str, Any]
) -> None:
    _, _, names = _resolve(name, subschema["propertyNames"])

    assert list(subschema["properties"]) == names["enum"], f"{name}#{pointer}"


def test_the_roles_of_the_contract_are_the_rosters() -> None:
    assert schemas.load_schema("common")["$defs"]["visit_role"]["enum"] == list(ROLES)  # type: ignore[index]


def test_the_snapshot_windows_are_the_services_rolling_windows() -> None:
    defs = schemas.load_schema("area.snapshots")["$defs"]
    demand = set(defs["demand"]["properties"])  # type: ignore[index]
    per_window = {
        f"{measure}_{DEMAND_WINDOW_NAMES[window]}"
        for window in DEMAND_WINDOWS
        for measure in ("incidents", "crimes", "stop_searches", "harm")
    }

    assert list(defs["dose"]["required"]) == list(WINDOW_NAMES.values())  # type: ignore[index]
    assert demand - per_window == {"open_incidents", "response_24h", "calls_per_crime_24h"}


def test_the_grades_of_the_contract_are_the_services() -> None:
    snapshots = schemas.load_schema("area.snapshots")["$defs"]
    alerts = schemas.load_schema("coverage.alerts")["$defs"]

    assert snapshots["open_incidents"]["required"] == list(GRADE_LABELS)  # type: ignore[index]
    evidence = alerts["evidence"]["properties"]  # type: ignore[index]
    assert list(evidence["open_incidents"]["properties"]) == list(GRADES)
