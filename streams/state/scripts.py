"""The Lua scripts of the state package, kept as ``.lua`` files in ``streams/state/lua/`` and
read as package resources (listed in ``[tool.setuptools.package-data]``)."""

from __future__ import annotations

from importlib import resources


def lua(name: str) -> str:
    """The text of ``streams/state/lua/<name>.lua``."""
    return resources.files("streams.state").joinpath("lua", f"{name}.lua").read_text("utf-8")


APPLY_LUA = lua("windows") + lua("visits") + lua("apply")
"""Every change of one source partition's batch with its offset watermark, in one call: the
rolling-window and visit-summary functions, then the ops' dispatch (one script, three files)."""
LEAD_LUA = lua("lead")
"""Take or keep the coverage leader lock."""
RELEASE_LUA = lua("release")
"""Bump a partition's owner only if it is still the one it was held under."""
FORGET_IF_LUA = lua("forget_if")
"""Delete a key only if it still holds the value read before."""
UPGRADE_WINDOWS_LUA = lua("upgrade_windows")
"""Convert one window family stored by the layout before total - out (run once at start)."""
