"""Coverwatch event contracts: one JSON Schema (draft 2020-12) per Kafka topic, and validators.

The ``*.schema.json`` files beside this module are the language-neutral contract described in
``README.md``. They are found relative to this file, so the package works from a checkout and
when installed as a wheel, and their ``$ref``s resolve offline through :func:`registry`.
"""

from __future__ import annotations

import json
import reprlib
from functools import cache
from pathlib import Path
from typing import Any, cast

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from referencing import Registry
from referencing.jsonschema import DRAFT202012, SchemaRegistry

__all__ = [
    "INPUT_TOPICS",
    "OUTPUT_TOPICS",
    "SCHEMA_DIR",
    "SCHEMA_NAMES",
    "TOPICS",
    "assert_valid",
    "load_schema",
    "registry",
    "schema_path",
    "validation_errors",
    "validator",
]

SCHEMA_DIR: Path = Path(__file__).resolve().parent
"""The directory holding the schema files, ``asyncapi.yaml`` and ``examples/``."""

INPUT_TOPICS: tuple[str, ...] = (
    "airwave.pings",
    "resources.roster",
    "cad.incidents",
    "crimes.recorded",
    "stopsearch.events",
    "areas.definitions",
    "clock.ticks",
)
"""Topics the service consumes."""

OUTPUT_TOPICS: tuple[str, ...] = (
    "presence.visits",
    "area.snapshots",
    "coverage.alerts",
    "deadletter",
)
"""Topics the service produces; every value on them carries ``"schema": "<topic>/1"``."""

TOPICS: tuple[str, ...] = INPUT_TOPICS + OUTPUT_TOPICS
"""Every topic, in the order of ``README.md``."""

SCHEMA_NAMES: tuple[str, ...] = (*TOPICS, "area-pack", "common")
"""Every schema file's name: the topics, the area pack file format and the shared definitions."""

_ERROR_REPR = reprlib.Repr()
"""Abbreviates the offending value inside error messages, so huge geometries stay readable."""
_ERROR_REPR.maxstring = 80
_ERROR_REPR.maxother = 80
_ERROR_REPR.maxlevel = 3


def schema_path(name: str) -> Path:
    """The file of the schema called ``name`` (a topic, ``"area-pack"`` or ``"common"``)."""
    if name not in SCHEMA_NAMES:
        raise ValueError(f"unknown schema {name!r}; expected one of {', '.join(SCHEMA_NAMES)}")
    return SCHEMA_DIR / f"{name}.schema.json"


def load_schema(name: str) -> dict[str, object]:
    """A fresh copy of the schema called ``name``, parsed from its file."""
    contents = json.loads(schema_path(name).read_text(encoding="utf-8"))
    if not isinstance(contents, dict):
        raise ValueError(f"{schema_path(name)} does not hold a JSON object")
    return contents


@cache
def registry() -> SchemaRegistry:
    """Every schema file, registered under its ``$id`` so that ``$ref``s between them resolve."""
    resources = [DRAFT202012.create_resource(load_schema(name)) for name in SCHEMA_NAMES]
    return resources @ Registry()


@cache
def validator(name: str) -> Validator:
    """The draft 2020-12 validator for schema ``name``, checking formats such as ``date-time``."""
    return Draft202012Validator(
        load_schema(name),
        registry=registry(),
        format_checker=_format_checker(),
    )


def validation_errors(name: str, value: object) -> list[str]:
    """Why ``value`` is not a valid ``name`` value, one line per error led by its JSON path.

    Empty when the value is valid.
    """
    # Validators take any Python value at run time; values that are not JSON just fail.
    errors = sorted(validator(name).iter_errors(cast(Any, value)), key=_error_order)
    return [_describe(error) for error in errors]


def assert_valid(name: str, value: object) -> None:
    """Raise ``AssertionError`` listing every error when ``value`` is not a valid ``name`` value."""
    errors = validation_errors(name, value)
    if errors:
        listing = "\n".join(f"  - {error}" for error in errors)
        raise AssertionError(f"not a valid {name} value:\n{listing}")


def _format_checker() -> FormatChecker:
    """The draft 2020-12 format checker, refusing to run when it cannot check ``date-time``."""
    checker: FormatChecker = Draft202012Validator.FORMAT_CHECKER
    if "date-time" not in checker.checkers:
        raise RuntimeError("date-time cannot be checked: install the rfc3339-validator package")
    return checker


def _error_order(error: ValidationError) -> tuple[str, str]:
    """Sort key that lists errors by where they are, then by what they say."""
    return (error.json_path, error.message)


def _describe(error: ValidationError) -> str:
    """One line for ``error``; a failed ``anyOf`` also names the error of its closest branch."""
    text = f"{error.json_path}: {_short_message(error)}"
    if error.context:
        text += f" (closest: {_describe(_closest_branch_error(error.context))})"
    return text


def _closest_branch_error(branch_errors: list[ValidationError]) -> ValidationError:
    """The most telling error among an ``anyOf``'s branches: one not about the value's type.

    A ``"yesterday"`` timestamp in a "timestamp or null" field is better explained by the
    timestamp branch's format error than by "is not of type 'null'".
    """
    of_right_type = [error for error in branch_errors if error.validator != "type"]
    return (of_right_type or branch_errors)[0]


def _short_message(error: ValidationError) -> str:
    """The error's message with the offending value abbreviated."""
    message: str = error.message
    return message.replace(repr(error.instance), _ERROR_REPR.repr(error.instance), 1)
