"""The event contracts in schemas/: schema files, examples, AsyncAPI document and loader."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

import schemas

EXAMPLES_DIR = schemas.SCHEMA_DIR / "examples"
INVALID_DIR = EXAMPLES_DIR / "invalid"
ASYNCAPI_PATH = schemas.SCHEMA_DIR / "asyncapi.yaml"
COMPACTED_TOPICS = {"resources.roster", "areas.definitions"}

_SCHEMA_MAP_KEYWORDS = ("$defs", "properties", "patternProperties", "dependentSchemas")
_SCHEMA_LIST_KEYWORDS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SCHEMA_KEYWORDS = (
    "items",
    "additionalProperties",
    "propertyNames",
    "if",
    "then",
    "else",
    "not",
    "contains",
)

CLOSED_VISIT = "06-closed-neighbourhood-foot-qualifying.json"
"""A generated example of a closed visit (``python -m streams.devtools.examples``)."""

PING = {"issi": "2350017", "ts": "2026-11-21T18:04:05.250Z", "lat": 52.4797, "lon": -1.9026}


def _read_json(path: Path) -> Any:
    """The JSON value stored in ``path``."""
    return json.loads(path.read_text(encoding="utf-8"))


def _schema(name: str) -> Any:
    """The schema called ``name``, loosely typed for poking into."""
    return schemas.load_schema(name)


def _as_list(value: Any) -> list[Any]:
    """``value`` as a list: itself when it is one, else a list of it (empty for None)."""
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _example_files(directory: Path) -> list[tuple[str, Path]]:
    """(topic, file) for every example file under ``directory/<topic>/``."""
    return [
        (topic, path)
        for topic in schemas.TOPICS
        for path in sorted((directory / topic).glob("*.json"))
    ]


def _example_id(case: tuple[str, Path]) -> str:
    """A test id naming an example by its topic and file."""
    topic, path = case
    return f"{topic}/{path.name}"


def _escape_pointer_token(token: str) -> str:
    """``token`` escaped for use in a JSON pointer."""
    return token.replace("~", "~0").replace("/", "~1")


def _subschemas(schema: Any, pointer: str = "") -> Iterator[tuple[str, Any]]:
    """(JSON pointer, subschema) for ``schema`` and every schema nested in it."""
    yield pointer, schema
    if not isinstance(schema, dict):
        return
    for keyword in _SCHEMA_MAP_KEYWORDS:
        for name, subschema in schema.get(keyword, {}).items():
            yield from _subschemas(subschema, f"{pointer}/{keyword}/{_escape_pointer_token(name)}")
    for keyword in _SCHEMA_LIST_KEYWORDS:
        for index, subschema in enumerate(schema.get(keyword, [])):
            yield from _subschemas(subschema, f"{pointer}/{keyword}/{index}")
    for keyword in _SCHEMA_KEYWORDS:
        if keyword in schema:
            yield from _subschemas(schema[keyword], f"{pointer}/{keyword}")


def _embedded_examples() -> list[Any]:
    """A test case (schema name, JSON pointer, example) per ``examples`` entry in every schema."""
    return [
        pytest.param(name, pointer, example, id=f"{name}#{pointer}[{index}]")
        for name in schemas.SCHEMA_NAMES
        for pointer, subschema in _subschemas(_schema(name))
        if isinstance(subschema, dict)
        for index, example in enumerate(subschema.get("examples", []))
    ]


def _asyncapi() -> Any:
    """The parsed AsyncAPI document."""
    return yaml.safe_load(ASYNCAPI_PATH.read_text(encoding="utf-8"))


def _resolve_local(document: Any, ref: str) -> Any:
    """The part of ``document`` a local ``#/...`` reference points to."""
    assert ref.startswith("#/"), ref
    node = document
    for token in ref[2:].split("/"):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return node


def _channel_messages(document: Any, channel: Any) -> list[Any]:
    """The message objects of an AsyncAPI channel, with references followed."""
    return [
        _resolve_local(document, message["$ref"]) if "$ref" in message else message
        for message in channel["messages"].values()
    ]


def _payload_file_refs(document: Any) -> list[str]:
    """Every reference from a message payload to a schema file."""
    return [
        message["payload"]["schema"]["$ref"]
        for message in document["components"]["messages"].values()
        if "schema" in message["payload"]
    ]


def _channels_by_topic(document: Any) -> dict[str, Any]:
    """The AsyncAPI channels keyed by their address (the Kafka topic)."""
    return {channel["address"]: channel for channel in document["channels"].values()}


# --- the schema files -------------------------------------------------------------------------


def test_topics_are_the_inputs_followed_by_the_outputs() -> None:
    assert schemas.TOPICS == schemas.INPUT_TOPICS + schemas.OUTPUT_TOPICS
    assert len(set(schemas.TOPICS)) == 11


@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_every_schema_is_a_valid_draft_2020_12_schema(name: str) -> None:
    schema = _schema(name)

    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_every_schema_id_names_the_schema_and_version_1(name: str) -> None:
    assert _schema(name)["$id"] == f"https://coverwatch.example/schemas/{name}/1"


@pytest.mark.parametrize("name", schemas.SCHEMA_NAMES)
def test_every_object_schema_declares_its_additional_properties(name: str) -> None:
    open_objects = [
        pointer or "/"
        for pointer, subschema in _subschemas(_schema(name))
        if isinstance(subschema, dict)
        and "object" in _as_list(subschema.get("type"))
        and "additionalProperties" not in subschema
    ]

    assert open_objects == []


@pytest.mark.parametrize("topic", schemas.TOPICS)
def test_every_topic_schema_pins_its_schema_tag(topic: str) -> None:
    assert _schema(topic)["properties"]["schema"]["const"] == f"{topic}/1"


@pytest.mark.parametrize("topic", schemas.OUTPUT_TOPICS)
def test_output_values_must_carry_their_schema_tag(topic: str) -> None:
    assert "schema" in _schema(topic)["required"]


@pytest.mark.parametrize("topic", schemas.INPUT_TOPICS)
def test_input_values_may_omit_their_schema_tag(topic: str) -> None:
    assert "schema" not in _schema(topic)["required"]


def test_visit_roles_are_the_roster_roles_plus_unknown() -> None:
    definitions = _schema("common")["$defs"]

    assert definitions["visit_role"]["enum"] == [*definitions["role"]["enum"], "unknown"]


@pytest.mark.parametrize(("name", "pointer", "example"), _embedded_examples())
def test_every_examples_array_in_the_schemas_validates(
    name: str, pointer: str, example: Any
) -> None:
    schema_id = _schema(name)["$id"]
    checker = Draft202012Validator(
        {"$ref": f"{schema_id}#{pointer}"},
        registry=schemas.registry(),
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )

    assert [error.message for error in checker.iter_errors(example)] == []


@pytest.mark.parametrize("topic", schemas.TOPICS)
def test_every_topic_schema_has_examples(topic: str) -> None:
    assert _schema(topic)["examples"]


# --- example files ----------------------------------------------------------------------------


@pytest.mark.parametrize("topic", schemas.TOPICS)
def test_every_topic_has_at_least_two_valid_example_files(topic: str) -> None:
    assert len(list((EXAMPLES_DIR / topic).glob("*.json"))) >= 2


@pytest.mark.parametrize("topic", schemas.INPUT_TOPICS)
def test_every_input_topic_has_at_least_two_invalid_example_files(topic: str) -> None:
    assert len(list((INVALID_DIR / topic).glob("*.json"))) >= 2


def test_example_folders_are_named_after_topics() -> None:
    folders = {path.name for path in EXAMPLES_DIR.iterdir() if path.is_dir()} - {"invalid"}
    invalid_folders = {path.name for path in INVALID_DIR.iterdir() if path.is_dir()}

    assert folders <= set(schemas.TOPICS)
    assert invalid_folders <= set(schemas.TOPICS)


@pytest.mark.parametrize("case", _example_files(EXAMPLES_DIR), ids=_example_id)
def test_every_example_validates(case: tuple[str, Path]) -> None:
    topic, path = case

    schemas.assert_valid(topic, _read_json(path))


@pytest.mark.parametrize("case", _example_files(INVALID_DIR), ids=_example_id)
def test_every_invalid_example_is_rejected(case: tuple[str, Path]) -> None:
    topic, path = case

    assert schemas.validation_errors(topic, _read_json(path)) != []


def test_example_area_rings_are_closed() -> None:
    for path in sorted((EXAMPLES_DIR / "areas.definitions").glob("*.json")):
        geometry = _read_json(path)["geometry"]
        polygons = geometry["coordinates"]
        if geometry["type"] == "Polygon":
            polygons = [polygons]
        for ring in (ring for polygon in polygons for ring in polygon):
            assert ring[0] == ring[-1], path.name


# --- behaviour of particular contracts ---------------------------------------------------------


def test_invalid_ping_with_lat_123_is_rejected() -> None:
    ping = _read_json(INVALID_DIR / "airwave.pings" / "lat-123.json")

    assert schemas.validation_errors("airwave.pings", ping) == [
        "$.lat: 123 is greater than the maximum of 90"
    ]


def test_a_ping_with_an_rfc3339_offset_timestamp_is_valid() -> None:
    schemas.assert_valid("airwave.pings", {**PING, "ts": "2026-06-21T19:04:05.250+01:00"})


def test_a_ping_timestamped_yesterday_is_rejected() -> None:
    errors = schemas.validation_errors("airwave.pings", {**PING, "ts": "yesterday"})

    assert errors == ["$.ts: 'yesterday' is not a 'date-time'"]


def test_a_ping_on_an_impossible_date_is_rejected() -> None:
    errors = schemas.validation_errors("airwave.pings", {**PING, "ts": "2026-13-21T18:04:05Z"})

    assert errors == ["$.ts: '2026-13-21T18:04:05Z' is not a 'date-time'"]


def test_a_ping_without_a_utc_offset_is_rejected() -> None:
    assert schemas.validation_errors("airwave.pings", {**PING, "ts": "2026-11-21T18:04:05"}) != []


def test_a_ping_declaring_another_schema_version_is_rejected() -> None:
    errors = schemas.validation_errors("airwave.pings", {**PING, "schema": "airwave.pings/2"})

    assert errors == ["$.schema: 'airwave.pings/1' was expected"]


def test_an_opened_incident_needs_a_location_and_category() -> None:
    opened = {"incident_id": "INC-1", "event": "opened", "ts": "2026-11-21T18:01:12.000Z"}

    assert schemas.validation_errors("cad.incidents", opened) == [
        "$: 'category' is a required property",
        "$: 'lat' is a required property",
        "$: 'lon' is a required property",
    ]


def test_an_assigned_incident_needs_callsigns() -> None:
    assigned = {"incident_id": "INC-1", "event": "assigned", "ts": "2026-11-21T18:02:40.000Z"}

    assert schemas.validation_errors("cad.incidents", assigned) == [
        "$: 'callsigns' is a required property"
    ]


def test_a_closed_incident_needs_no_location() -> None:
    closed = {"incident_id": "INC-1", "event": "closed", "ts": "2026-11-21T19:30:00.000Z"}

    schemas.assert_valid("cad.incidents", closed)


def test_an_area_polygon_ring_of_three_positions_is_rejected_at_its_path() -> None:
    area = _read_json(INVALID_DIR / "areas.definitions" / "ring-too-short.json")

    errors = schemas.validation_errors("areas.definitions", area)

    assert len(errors) == 1
    assert errors[0].startswith("$.geometry.coordinates[0]: ")


def test_a_closed_visit_must_have_an_end() -> None:
    visit = _read_json(EXAMPLES_DIR / "presence.visits" / CLOSED_VISIT)

    errors = schemas.validation_errors("presence.visits", {**visit, "end": None})

    assert errors == ["$.end: None is not of type 'string'"]


def test_a_bad_end_time_is_explained_by_its_format_not_by_null() -> None:
    visit = _read_json(EXAMPLES_DIR / "presence.visits" / CLOSED_VISIT)

    errors = schemas.validation_errors("presence.visits", {**visit, "end": "yesterday"})

    assert errors == [
        "$.end: 'yesterday' is not valid under any of the given schemas"
        " (closest: $.end: 'yesterday' is not a 'date-time')"
    ]


def test_snapshot_groups_take_no_field_the_service_does_not_emit() -> None:
    snapshot = _read_json(EXAMPLES_DIR / "area.snapshots" / "impact-area-covered-busy.json")
    presence = snapshot["presence"]

    assert schemas.validation_errors(
        "area.snapshots", {**snapshot, "presence": {**presence, "detail": {"note": None}}}
    ) == ["$.presence: Additional properties are not allowed ('detail' was unexpected)"]
    assert schemas.validation_errors(
        "area.snapshots", {**snapshot, "dose": {**snapshot["dose"], "30m": snapshot["dose"]["1h"]}}
    ) == ["$.dose: Additional properties are not allowed ('30m' was unexpected)"]


def test_an_area_pack_of_the_example_areas_validates() -> None:
    features = [
        _read_json(path) for path in sorted((EXAMPLES_DIR / "areas.definitions").glob("*.json"))
    ]
    pack = {
        "type": "FeatureCollection",
        "name": "Birmingham city centre demo",
        "attribution": "Synthetic boundaries for demonstration.",
        "description": "Impact and comparison areas around Digbeth.",
        "features": features,
    }

    schemas.assert_valid("area-pack", pack)


def test_an_area_pack_with_an_invalid_feature_is_rejected_at_the_feature() -> None:
    feature = _read_json(INVALID_DIR / "areas.definitions" / "missing-kind.json")
    pack = {"type": "FeatureCollection", "features": [feature]}

    assert schemas.validation_errors("area-pack", pack) == [
        "$.features[0].properties: 'kind' is a required property"
    ]


# --- the loader -------------------------------------------------------------------------------


def test_schema_files_are_found_beside_the_package() -> None:
    assert Path(schemas.__file__).resolve().parent == schemas.SCHEMA_DIR
    for name in schemas.SCHEMA_NAMES:
        assert schemas.schema_path(name).is_file()


def test_an_unknown_schema_name_is_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown schema 'airwave\.pongs'"):
        schemas.schema_path("airwave.pongs")


def test_validators_are_cached() -> None:
    assert schemas.validator("airwave.pings") is schemas.validator("airwave.pings")


def test_load_schema_returns_a_fresh_copy() -> None:
    schemas.load_schema("clock.ticks")["title"] = "changed"

    assert schemas.load_schema("clock.ticks")["title"] == "clock.ticks value"


def test_validation_errors_are_empty_for_a_valid_value() -> None:
    assert schemas.validation_errors("airwave.pings", PING) == []


def test_validation_errors_name_the_json_path_of_each_error() -> None:
    errors = schemas.validation_errors("airwave.pings", {**PING, "lat": 123, "lon": "west"})

    assert errors == [
        "$.lat: 123 is greater than the maximum of 90",
        "$.lon: 'west' is not of type 'number'",
    ]


def test_validation_errors_abbreviate_huge_values() -> None:
    ring = [[-1.89, 52.48 + index / 10_000] for index in range(500)]
    area = {"type": "Feature", "id": "A1", "properties": {"name": "A", "kind": "other"}}

    errors = schemas.validation_errors("areas.definitions", {**area, "geometry": ring})

    assert len(errors) == 1
    assert errors[0].startswith("$.geometry: [[-1.89, 52.48], [-1.89, 52.4801], ")
    assert errors[0].endswith("...] is not of type 'object'")
    assert len(errors[0]) < 200


def test_a_non_object_value_is_reported_not_raised() -> None:
    assert schemas.validation_errors("clock.ticks", [1, 2]) == ["$: [1, 2] is not of type 'object'"]


def test_assert_valid_accepts_a_valid_value() -> None:
    schemas.assert_valid("airwave.pings", PING)


def test_assert_valid_lists_every_error() -> None:
    with pytest.raises(AssertionError) as raised:
        schemas.assert_valid("airwave.pings", {**PING, "lat": 123, "extra": True})

    assert str(raised.value) == (
        "not a valid airwave.pings value:\n"
        "  - $: Additional properties are not allowed ('extra' was unexpected)\n"
        "  - $.lat: 123 is greater than the maximum of 90"
    )


# --- the AsyncAPI document --------------------------------------------------------------------


def test_asyncapi_document_is_version_3_0_0() -> None:
    assert _asyncapi()["asyncapi"] == "3.0.0"


def test_asyncapi_has_a_channel_for_every_topic() -> None:
    assert sorted(_channels_by_topic(_asyncapi())) == sorted(schemas.TOPICS)


def test_every_asyncapi_payload_ref_points_to_an_existing_schema_file() -> None:
    refs = _payload_file_refs(_asyncapi())

    assert refs
    for ref in refs:
        assert (schemas.SCHEMA_DIR / ref).is_file(), ref


def test_every_asyncapi_payload_is_declared_as_json_schema_2020_12() -> None:
    messages = _asyncapi()["components"]["messages"].values()

    for message in messages:
        if "schema" in message["payload"]:
            assert message["payload"]["schemaFormat"] == (
                "application/schema+json;version=draft-2020-12"
            )


IN_BAND_HEARTBEATS = {
    "airwave.pings": ["./clock.ticks.schema.json"],
    "cad.incidents": ["./clock.ticks.schema.json"],
}
"""Channels that may also carry in-band heartbeats (``clock.ticks`` values)."""


def test_every_channel_carries_its_topic_schema_and_only_the_documented_heartbeats() -> None:
    document = _asyncapi()

    for topic, channel in _channels_by_topic(document).items():
        refs = [
            message["payload"]["schema"]["$ref"]
            for message in _channel_messages(document, channel)
            if "schema" in message["payload"]
        ]
        assert refs == [f"./{topic}.schema.json", *IN_BAND_HEARTBEATS.get(topic, [])], topic


def test_every_asyncapi_message_declares_its_kafka_key() -> None:
    for name, message in _asyncapi()["components"]["messages"].items():
        assert message["bindings"]["kafka"]["key"]["type"] == "string", name


def test_asyncapi_receives_inputs_and_sends_outputs() -> None:
    document = _asyncapi()

    actions = {
        _resolve_local(document, operation["channel"]["$ref"])["address"]: operation["action"]
        for operation in document["operations"].values()
    }

    assert actions == {
        **dict.fromkeys(schemas.INPUT_TOPICS, "receive"),
        **dict.fromkeys(schemas.OUTPUT_TOPICS, "send"),
    }


def test_asyncapi_marks_exactly_the_roster_and_areas_as_compacted() -> None:
    compacted = {
        topic
        for topic, channel in _channels_by_topic(_asyncapi()).items()
        if "compact"
        in channel.get("bindings", {})
        .get("kafka", {})
        .get("topicConfiguration", {})
        .get("cleanup.policy", [])
    }

    assert compacted == COMPACTED_TOPICS
