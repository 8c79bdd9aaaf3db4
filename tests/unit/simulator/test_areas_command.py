"""``coverwatch areas rings``: the pack written back with fresh displacement rings."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import orjson
import pytest

from streams.cli import main


def bundled_pack() -> bytes:
    return resources.files("streams.simulator").joinpath("data", "area-pack.geojson").read_bytes()


def test_rings_of_the_bundled_pack_are_the_rings_it_ships(tmp_path: Path) -> None:
    without_rings = orjson.loads(bundled_pack())
    without_rings["features"] = [
        f for f in without_rings["features"] if f["properties"]["kind"] != "ring"
    ]
    source = tmp_path / "pack.geojson"
    source.write_bytes(orjson.dumps(without_rings))
    out = tmp_path / "ringed.geojson"
    assert main(["areas", "rings", str(source), "--out", str(out)]) == 0
    assert out.read_bytes() == bundled_pack()


def test_rings_with_another_width_and_a_bad_width(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = tmp_path / "pack.geojson"
    source.write_bytes(bundled_pack())
    assert main(["areas", "rings", str(source), "--ring-m", "100"]) == 0
    written = orjson.loads(capsys.readouterr().out)
    widths = {f["properties"].get("ring_m") for f in written["features"]}
    assert widths == {None, 100.0}
    assert main(["areas", "rings", str(source), "--ring-m", "0"]) == 2
    assert "--ring-m must be above 0" in capsys.readouterr().err
