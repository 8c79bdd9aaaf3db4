"""What leaves the service about a visit: a keyed id and a pseudonym, never the radio."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import datetime

import orjson

from schemas import assert_valid
from streams.domain.publication import pseudonym, published_visit_id, visit_value
from streams.domain.tracks import Visit, visit_id_for

KEY = b"unit-test-pseudonym-key-0123"
OTHER_KEY = b"another-pseudonym-key-456789"
ISSI = "2350017"
AREA = "WM-IA-017"
START = 1_763_748_245.25  # 2025-11-21T18:04:05.250Z, exact in milliseconds


def visit(issi: str = ISSI, area_id: str = AREA, start: float = START) -> Visit:
    return Visit(
        visit_id=visit_id_for(issi, area_id, start),
        issi=issi,
        area_id=area_id,
        role="neighbourhood",
        mode="foot",
        activity="proactive",
        start=start,
        end=None,
        seconds=312.5,
        qualifying=False,
        drive_through=False,
        credited_seconds=312.5,
        revision=2,
        status="open",
    )


def test_a_published_visit_names_neither_the_radio_nor_its_internal_id() -> None:
    value = visit_value(KEY, visit())

    assert_valid("presence.visits", value)
    published = orjson.dumps(value).decode()
    assert ISSI not in published
    assert visit().visit_id not in published
    assert value["officer"] == pseudonym(KEY, ISSI)


def test_trying_every_issi_does_not_find_the_radio_behind_a_published_visit() -> None:
    """The attack on unkeyed ids: the record gives the area and the start, so a digest of
    ``issi|area|start`` is undone by trying ISSIs (here 20,000 around the real one)."""
    value = visit_value(KEY, visit())
    start = datetime.fromisoformat(str(value["start"])).timestamp()
    tried = {
        visit_id_for(str(issi), str(value["area_id"]), start): str(issi)
        for issi in range(2_340_000, 2_360_000)
    }

    assert tried.get(visit().visit_id) == ISSI  # the internal id would give the radio away
    assert value["visit_id"] not in tried


def test_a_visit_keeps_its_published_id_through_its_revisions_under_one_key() -> None:
    opened = visit()
    closed = replace(
        opened, end=START + 900, seconds=900.0, qualifying=True, revision=5, status="closed"
    )

    assert published_visit_id(KEY, closed) == published_visit_id(KEY, opened)
    assert re.fullmatch(r"[0-9a-f]{16}", published_visit_id(KEY, opened))
    assert published_visit_id(OTHER_KEY, opened) != published_visit_id(KEY, opened)


def test_other_radios_areas_and_starts_make_other_visit_ids() -> None:
    ids = {
        published_visit_id(KEY, v)
        for v in (
            visit(),
            visit(issi="2350018"),
            visit(area_id="WM-IA-018"),
            visit(start=START + 1),
        )
    }
    assert len(ids) == 4


def test_the_pseudonym_of_key_bytes_is_the_pseudonym_of_their_text() -> None:
    assert pseudonym(KEY, ISSI.encode()) == pseudonym(KEY, ISSI)
    assert re.fullmatch(r"o_[0-9a-f]{16}", pseudonym(KEY, ISSI))
