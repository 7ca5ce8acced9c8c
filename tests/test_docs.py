"""The README and docs/ stand on their own: every link they make resolves inside the repository,
they name no file the repository does not hold, and the README stays a newcomer's read."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue  # an absolute URL
        resolved = (page.parent / target).resolve()
        assert resolved.is_relative_to(ROOT), f"{page.name} links outside the repository: {target}"
        assert resolved.exists(), f"{page.name} links to a missing file: {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_page_names_a_file_the_repository_does_not_hold(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    for name in ("DESIGN.md", "FACTS.md", "STYLE.md", "EMISSIONS-DATA.md", "../shared"):
        assert name not in text, f"{page.name} refers to {name}, which is not in this repository"


def test_readme_is_a_newcomers_read() -> None:
    """Under 20 KB: what it is, the two commands, configuration, the API; the rest is in docs/."""
    assert len((ROOT / "README.md").read_bytes()) < 20_000
