"""The user documents stay short, linked and self-contained.

README.md stays under 250 lines; every relative link and image in README.md,
CHANGELOG.md and docs/*.md points at a file of the repository (and, with a #fragment
into a Markdown file, at one of its headings); nothing points outside the repository
or carries the history of work sessions or commit ids.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted([ROOT / "README.md", ROOT / "CHANGELOG.md", *(ROOT / "docs").glob("*.md")])
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def prose(path: Path) -> str:
    """The document without its fenced code blocks (shell comments are not links)."""
    return FENCE.sub("", path.read_text(encoding="utf-8"))


def anchors(path: Path) -> set[str]:
    """GitHub's ids for the headings of a Markdown file."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", prose(path), re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-") for heading in headings}


def relative_links(path: Path) -> list[str]:
    return [target for target in LINK.findall(prose(path)) if not re.match(r"^[a-z]+:", target)]


def test_the_readme_is_under_250_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").count("\n")
    assert lines < 250, f"README.md has {lines} lines: move the detail to docs/"


def test_the_docs_map_names_a_page_for_each_reader():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for page in ("receiving", "api", "portal", "operations", "console", "architecture", "guarantees", "benchmarks"):
        assert f"docs/{page}.md" in readme, f"the README's map does not name docs/{page}.md"


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_every_relative_link_resolves(path):
    broken = []
    for target in relative_links(path):
        file_part, _, fragment = target.partition("#")
        linked = (path.parent / file_part).resolve() if file_part else path
        if not linked.exists() or ROOT not in (linked, *linked.parents):
            broken.append(target)
        elif fragment and linked.suffix == ".md" and fragment not in anchors(linked):
            broken.append(f"{target} (no such heading)")
    assert broken == [], f"{path.name}: links that lead nowhere: {broken}"


@pytest.mark.parametrize("path", DOCS, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_document_points_outside_the_repository_or_tells_its_history(path):
    text = path.read_text(encoding="utf-8")
    assert "../shared" not in text and "CONTRACT.md" not in text, f"{path.name} points outside the repository"
    sessions = re.findall(r"\b(?:latest|previous|this|that|earlier|last|next) session\b|\bsession before\b", text, re.I)
    assert sessions == [], f"{path.name} tells the history of work sessions: {sessions}"
    commits = re.findall(r"`[0-9a-f]{7,40}`", text)
    assert commits == [], f"{path.name} names commits (give a figure its date and machine): {commits}"
