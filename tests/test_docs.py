"""The README and docs/ must stand on their own: a clone from a code host has nothing beside it.

Every relative Markdown link resolves to a file inside the repository (and, for a link into a
Markdown file, to a heading there), and no text points outside it (`../shared`, `/work`, or any
`../` path that climbs above the repository root).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]

# Places that exist only on the machine where the project grew, never in a clone.
FORBIDDEN = ("../shared", "/work/")
_FENCE = re.compile(r"^\s*(```|~~~)")
_CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target) and ![alt](target), with an optional "title"; reference definitions [id]: target.
_INLINE_LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+.*)?$")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_UP_PATH = re.compile(r"(?<![\w./-])((?:\.\./)+[\w.*/-]*)")
_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _prose_lines(text: str) -> list[tuple[int, str]]:
    """Lines outside fenced code blocks, with their numbers."""
    out, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if _FENCE.match(line):
            fenced = not fenced
            continue
        if not fenced:
            out.append((number, line))
    return out


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link keeps its text
    text = text.replace("`", "").strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for _, line in _prose_lines(path.read_text()):
        m = _HEADING.match(line)
        if m is None:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def links(path: Path) -> list[tuple[int, str]]:
    """Link targets outside code blocks and code spans."""
    found = []
    for number, line in _prose_lines(path.read_text()):
        prose = _CODE_SPAN.sub("", line)
        found += [(number, m.group(1)) for m in _INLINE_LINK.finditer(prose)]
        ref = _REFERENCE.match(prose)
        if ref is not None:
            found.append((number, ref.group(1)))
    return found


def link_problems(path: Path, root: Path = ROOT) -> list[str]:
    """Relative links that leave the repository, name a missing file or a missing heading."""
    problems = []
    for number, target in links(path):
        if _SCHEME.match(target) or target.startswith("//"):
            continue  # a web address: not this test's business
        file_part, _, fragment = target.partition("#")
        where = f"{path.relative_to(root)}:{number}: ({target})"
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.is_relative_to(root):
            problems.append(f"{where} leaves the repository")
        elif not dest.exists():
            problems.append(f"{where} names no file")
        elif fragment and dest.suffix == ".md" and fragment.lower() not in anchors(dest):
            problems.append(f"{where} names no heading of {dest.relative_to(root)}")
    return problems


def outside_references(path: Path, root: Path = ROOT) -> list[str]:
    """Text (code included: commands are text a reader copies) that points outside the repository."""
    problems = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        where = f"{path.relative_to(root)}:{number}"
        problems += [f"{where}: mentions {bad}" for bad in FORBIDDEN if bad in line]
        for m in _UP_PATH.finditer(line):
            up = m.group(1).rstrip(".")  # a full stop ends the sentence, not the path
            # Read from the file's folder: the README's is the root, where commands run.
            if not (path.parent / up).resolve().is_relative_to(root):
                problems.append(f"{where}: {up} climbs out of the repository")
    return problems


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve_inside_the_repository(doc: Path) -> None:
    assert link_problems(doc) == []


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_reference_outside_the_repository(doc: Path) -> None:
    assert outside_references(doc) == []


def test_the_contract_and_architecture_are_in_the_repository() -> None:
    readme = (ROOT / "README.md").read_text()
    for doc in ("docs/contract.md", "docs/architecture.md"):
        assert (ROOT / doc).is_file()
        assert f"]({doc})" in readme, f"README links to {doc}"


def test_the_checks_find_what_they_look_for(tmp_path: Path) -> None:
    """Each kind of problem, planted in a scratch repository, is reported; the sound lines not."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "other.md").write_text("# Other\n\n## Known heading\n")
    doc = tmp_path / "docs" / "guide.md"
    doc.write_text(
        "# Guide\n"
        "[ok](other.md#known-heading) [ok](../docs/other.md) [web](https://example.org/x)\n"
        "[self](#guide) ![img](other.md)\n"
        "[gone](missing.md) [out](../../elsewhere.md) [anchor](other.md#unknown)\n"
        "The spec is `../shared/spec/RETURNS.md`; run ../../bench/baseline.py.\n"
        "```sh\n"
        "python simulate.py ../shared/cases/*.json\n"
        "```\n"
        "[ref]: ./nowhere.md\n"
    )
    assert link_problems(doc, tmp_path) == [
        "docs/guide.md:4: (missing.md) names no file",
        "docs/guide.md:4: (../../elsewhere.md) leaves the repository",
        "docs/guide.md:4: (other.md#unknown) names no heading of docs/other.md",
        "docs/guide.md:9: (./nowhere.md) names no file",
    ]
    assert outside_references(doc, tmp_path) == [
        "docs/guide.md:4: ../../elsewhere.md climbs out of the repository",
        "docs/guide.md:5: mentions ../shared",
        "docs/guide.md:5: ../../bench/baseline.py climbs out of the repository",
        "docs/guide.md:7: mentions ../shared",
    ]
