"""Document patterns: one linear-time matcher over listed names (taxon.documents.patterns),
used by validate, documents and generate alike; hostile patterns are findings with their
line, never a hang or a traceback (real processes, each with a bounded timeout)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from document_helpers import make_leaf

from taxon.documents.patterns import MAX_SEGMENTS, PatternRefused, compile_pattern

BACKTRACKING = "*a*a*a*a*a*a*a*a*a*a*b.md"  # a regex made of it backtracks for hours on a long name
DEEP = "**/a/**/a/**/a/**/a/**/a/b.md"  # pathlib's glob of it walks a deep chain forever
HOSTILE = [BACKTRACKING, DEEP, ".", "**a**b", "a//b.md", "/".join(["d"] * (MAX_SEGMENTS + 1)), "x" * 201]


@pytest.mark.parametrize(
    "pattern, name, matches",
    [
        ("*.md", "a.md", True),
        ("*.md", ".hidden.md", True),
        ("*.md", "docs/a.md", False),
        ("**", "docs/x/a.md", True),
        ("docs/**", "docs/a.md", True),
        ("docs/**", "docs", False),
        ("docs/**/*.md", "docs/a.md", True),
        ("docs/**/*.md", "docs/x/y/a.md", True),
        ("docs/**/*.md", "other/x/a.md", False),
        ("**/a/**/b.md", "a/b.md", True),
        ("**/a/**/b.md", "x/a/y/z/b.md", True),
        ("**/a/**/b.md", "x/y/z/b.md", False),
        ("**/**/*.md", "a.md", True),
        ("ch?pter_[0-9].md", "chapter_7.md", True),
        ("ch?pter_[0-9].md", "chapter_x.md", False),
        ("[!ab].md", "c.md", True),
        ("[!ab].md", "a.md", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "aXbYcZ", False),
        ("a?c", "a/c", False),
    ],
)
def test_glob_semantics(pattern, name, matches):
    assert compile_pattern(pattern).matches(name) is matches


@pytest.mark.parametrize("pattern", HOSTILE)
def test_hostile_patterns_are_refused_by_the_caps(pattern):
    with pytest.raises(PatternRefused):
        compile_pattern(pattern)


def test_matching_stays_linear_on_long_names():
    """Within the caps, the worst pattern over a 4 KB name and a 200-folder chain: each match
    is a bounded number of steps (no backtracking explosion), so this returns at once."""
    worst = compile_pattern("*a*a*a*b.md")
    assert worst.matches("a" * 4000 + ".md") is False
    chain = "/".join(["a"] * 200) + "/c.md"
    assert compile_pattern("**/a/**/b.md").matches(chain) is False


def _item_line(lines: list[str], pattern: str) -> int:
    """The 1-based line of the list item that is exactly `pattern` (quoted or not)."""
    return next(n + 1 for n, line in enumerate(lines) if line.strip()[2:].strip("'\"") == pattern)


def taxon(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    """A real taxon process with a bounded timeout: a hang fails the test, it never stalls it."""
    return subprocess.run(
        [sys.executable, "-m", "taxon", *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_validate_documents_and_check_documents_refuse_each_pattern_at_its_line(tmp_path, repo_root):
    files = {"a" * 200 + ".md": "# A\n\nA long name.\n", "birds.md": "# Birds\n\nSmall birds.\n"}
    leaf = make_leaf(tmp_path, {"patterns": ["*.md", *HOSTILE]}, files)
    deep = leaf.folder.joinpath(*["a"] * 60)
    deep.mkdir(parents=True)
    (deep / "c.md").write_text("# Deep\n\nDeep down.\n")
    (leaf.folder / "attribution.txt").write_text(
        (
            repo_root
            / "taxonomy"
            / "knowledge"
            / "science"
            / "fictional_species"
            / "marrowick_finch"
            / "attribution.txt"
        ).read_text()
    )
    lines = leaf.qna_path.read_text().splitlines()
    config = ["--config", str(repo_root / "taxon.toml")]

    for args in (("validate", "--format", "json"), ("validate", "--check-documents", "--format", "json")):
        result = taxon(*args, *config, str(leaf.qna_path), cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        [report] = json.loads(result.stdout)["files"]
        item_lines = {pattern: _item_line(lines, pattern) for pattern in HOSTILE}
        for rule in ("P064", "D013") if "--check-documents" in args else ("P064",):
            found_lines = sorted(f["line"] for f in report["findings"] if f["rule"] == rule)
            assert found_lines == sorted(item_lines.values()), (rule, report)

    result = taxon("documents", *config, str(leaf.qna_path), cwd=tmp_path)  # generate's path to documents
    assert result.returncode == 1 and "Traceback" not in result.stderr and "D013" in result.stderr
