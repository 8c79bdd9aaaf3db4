"""The README and the pages in ``docs/`` point at things that exist.

Every relative link resolves to a file in the repository (and its ``#anchor`` to a heading of
the page it names), and every module reference resolves to a module, package or file in the
tree: paths such as ``streams/engines/coverage.py``, ``streams/state/`` or
``streams/state/lua/*.lua``, and dotted names such as ``streams.engines.coverage`` or
``schemas.assert_valid`` (a module, or a name defined at the top of one).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
PAGE_IDS = [str(page.relative_to(ROOT)) for page in PAGES]

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)
TREE_ROOTS = ("streams", "schemas", "deploy", "tests", "docs")
PATH_REFERENCE = re.compile(r"(?<![\w./-])((?:" + "|".join(TREE_ROOTS) + r")/[A-Za-z0-9_.*/-]*)")
DOTTED_REFERENCE = re.compile(r"(?<![\w./-])((?:streams|schemas)(?:\.[A-Za-z_]\w*)+)")


def prose(text: str) -> str:
    """The page without its fenced code blocks (links are not links there)."""
    return FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: the text without markup, lower case, punctuation dropped,
    spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"[^\w\- ]", "", text.strip().lower())
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """Every heading anchor of a Markdown page; repeated headings get ``-1``, ``-2``..."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for heading in HEADING.findall(prose(page.read_text())):
        base = slug(heading)
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def broken_links(page: Path) -> list[str]:
    problems = []
    for target in LINK.findall(prose(page.read_text())):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (page.parent / path_part).resolve() if path_part else page
        if not resolved.exists():
            problems.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            problems.append(f"{target}: no heading #{anchor} in {resolved.name}")
    return problems


def path_resolves(reference: str) -> bool:
    reference = reference.rstrip(".,:;")
    if "*" in reference:
        return any(ROOT.glob(reference))
    return (ROOT / reference).exists()


def module_file(parts: list[str]) -> Path | None:
    """The file holding module ``parts`` (a package's ``__init__.py``), if there is one."""
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def dotted_resolves(reference: str) -> bool:
    parts = reference.split(".")
    if module_file(parts) is not None:
        return True
    parent = module_file(parts[:-1])
    if parent is None:
        return False
    name = re.escape(parts[-1])
    defined = re.compile(
        rf"^(?:(?:async\s+)?def\s+{name}\b|class\s+{name}\b|{name}\s*[:=]|from\s.+\bimport\b.*\b{name}\b)",
        re.MULTILINE,
    )
    return defined.search(parent.read_text()) is not None


def unresolved_modules(page: Path) -> list[str]:
    text = page.read_text()
    problems = [
        f"{reference}: no such file or directory"
        for reference in sorted(set(PATH_REFERENCE.findall(text)))
        if not path_resolves(reference)
    ]
    problems.extend(
        f"{reference}: no such module, package or name"
        for reference in sorted(set(DOTTED_REFERENCE.findall(text)))
        if not dotted_resolves(reference)
    )
    return problems


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_relative_link_resolves(page: Path) -> None:
    problems = sorted(set(broken_links(page)))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=PAGE_IDS)
def test_every_module_reference_resolves(page: Path) -> None:
    problems = unresolved_modules(page)
    assert not problems, "\n".join(problems)


def test_the_readme_stays_short() -> None:
    assert len((ROOT / "README.md").read_text().splitlines()) <= 250


def test_the_checks_catch_what_they_are_for(tmp_path: Path) -> None:
    """The checks themselves: a dangling link, a missing anchor, a missing module, a missing
    name and a path that matches nothing are all reported; good ones are not."""
    page = tmp_path / "page.md"
    page.write_text(
        "# A heading: with `code`\n\n"
        "[ok](#a-heading-with-code) [bad anchor](#nowhere) [missing](nothing.md) "
        "[web](https://example.org/x.md)\n"
    )
    assert broken_links(page) == [
        "#nowhere: no heading #nowhere in page.md",
        "nothing.md: no such file",
    ]
    assert path_resolves("streams/settings.py")
    assert path_resolves("streams/domain/")
    assert not path_resolves("streams/no_such_module.py")
    assert not path_resolves("deploy/*.nothing")
    assert dotted_resolves("streams.settings")
    assert dotted_resolves("streams.settings.Settings")
    assert dotted_resolves("schemas.assert_valid")
    assert not dotted_resolves("streams.no_such_module")
    assert not dotted_resolves("streams.settings.NoSuchName")
