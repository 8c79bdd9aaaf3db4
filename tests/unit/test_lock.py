"""The virtual environment is exactly the lock: what CI tested is what a fresh machine gets."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.utils import canonicalize_name

LOCK = Path(__file__).resolve().parents[2] / "uv.lock"
# Put there by `python -m venv` before the lock is installed; `pip freeze` leaves them out too.
BOOTSTRAP = {"pip", "setuptools", "wheel"}


def locked_versions() -> dict[str, set[str]]:
    """Each locked package's versions (several where they differ by Python version)."""
    versions: dict[str, set[str]] = {}
    for package in tomllib.loads(LOCK.read_text())["package"]:
        if "version" in package:
            versions.setdefault(canonicalize_name(package["name"]), set()).add(package["version"])
    return versions


def test_every_installed_distribution_has_its_locked_version() -> None:
    locked = locked_versions()
    installed = {
        canonicalize_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions()
    }
    differing = {
        name: (version, locked.get(name))
        for name, version in installed.items()
        if name not in BOOTSTRAP and version not in locked.get(name, set())
    }
    assert differing == {}, "installed (version, locked version) that differ from uv.lock"


def test_the_lock_pins_the_direct_dependencies() -> None:
    locked = locked_versions()
    for name in ("faust-streaming", "aiokafka", "redis", "shapely", "prometheus-client", "orjson"):
        assert canonicalize_name(name) in locked
