"""``@record`` values: equal and hashed by their compared fields, slotted, copied by replace."""

from __future__ import annotations

from dataclasses import field, replace

from streams.domain.records import record


@record
class _Reading:
    source: str
    value: float
    note: bytes = field(default=b"", compare=False)


def test_values_with_equal_fields_are_equal_and_hash_alike() -> None:
    assert _Reading("a", 1.0) == _Reading("a", 1.0)
    assert hash(_Reading("a", 1.0)) == hash(_Reading("a", 1.0))
    assert _Reading("a", 1.0) != _Reading("a", 2.0)


def test_fields_left_out_of_comparison_do_not_change_equality_or_hash() -> None:
    assert _Reading("a", 1.0, b"x") == _Reading("a", 1.0, b"y")
    assert hash(_Reading("a", 1.0, b"x")) == hash(_Reading("a", 1.0, b"y"))


def test_replace_builds_a_changed_copy_and_leaves_the_original() -> None:
    original = _Reading("a", 1.0)
    changed = replace(original, value=2.0)
    assert (original.value, changed.value) == (1.0, 2.0)


def test_values_have_slots_and_no_instance_dict() -> None:
    assert not hasattr(_Reading("a", 1.0), "__dict__")
