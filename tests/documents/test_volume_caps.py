"""Document volume (D018): every cap on what a leaf's documents may cost is checked before the
work it bounds, and each is a finding with the number. The hostile shapes of the security
review finish in seconds: a 20,000-file repository 400 folders deep with 49 slow patterns
(past 120 s before), a 1.58 MB PDF of 10,000 pages sharing one stream (hours before)."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest
from document_helpers import make_leaf, make_repo_fast, shared_stream_pdf

from taxon.cli import main
from taxon.core.errors import TaxonError
from taxon.documents import check_leaf_documents, load_leaf_documents
from taxon.documents.readers import TextLimits, read_pdf

SLOW_PATTERNS = [f"**/d/**/x{number}*.md" for number in range(49)]  # each walks every name, no match
DEEP = "/".join(["d"] * 400)


def _hostile_repo(tmp_path, files: int = 20_000, deep: bool = True) -> str:
    contents = {f"docs/{number // 100}/{number}.md": b"# A\n" for number in range(files)}
    if deep:
        contents[f"{DEEP}/deep.md"] = b"# Deep\n"
    return make_repo_fast(tmp_path / "source", contents)


def _external(tmp_path, commit: str, patterns: list[str]) -> dict:
    return {"repo": (tmp_path / "source").as_uri(), "commit": commit, "patterns": patterns}


def _d018(findings) -> list[str]:
    return [finding.message for finding in findings if finding.rule == "D018"]


def test_the_review_repository_stops_at_each_cap_with_its_number(tmp_path, document_settings):
    commit = _hostile_repo(tmp_path)
    many = make_leaf(tmp_path / "a", _external(tmp_path, commit, SLOW_PATTERNS))
    with pytest.raises(TaxonError, match=r"D018 document lists 49 patterns, over max_patterns \(20\)"):
        load_leaf_documents(many, document_settings)  # generate's path: before anything is fetched
    assert not (tmp_path / "cache").exists()

    listed = make_leaf(tmp_path / "b", _external(tmp_path, commit, SLOW_PATTERNS[:20]))
    [message] = _d018(check_leaf_documents(listed, document_settings))
    assert f"commit {commit} lists 20001 files, over max_listed_files (10000)" in message

    document_settings = replace(document_settings, max_listed_files=30_000)
    [message] = _d018(check_leaf_documents(listed, document_settings))
    assert "files 401 levels deep, over max_depth (24)" in message


def test_validate_check_documents_finishes_in_a_bounded_process(tmp_path, repo_root):
    """The whole command, as CI runs it, under a timeout (the review measured it past 120 s)."""
    commit = _hostile_repo(tmp_path)
    leaf = make_leaf(tmp_path, _external(tmp_path, commit, SLOW_PATTERNS[:20]))
    config = repo_root / "taxon.toml"
    result = subprocess.run(
        [sys.executable, "-m", "taxon", "validate", "--check-documents", "--format", "json", "--config", str(config)]
        + ["--set", f'documents.cache_dir="{tmp_path / "cache"}"', "--set", "documents.allow_file_urls=true"]
        + [str(leaf.qna_path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    findings = json.loads(result.stdout)["files"][0]["findings"]
    assert result.returncode == 1 and any(f["rule"] == "D018" and "20001 files" in f["message"] for f in findings)


def test_in_tree_folders_have_the_same_caps(tmp_path, document_settings):
    deep = {f"{'/'.join(['d'] * 30)}/deep.md": "# Deep\n"}
    leaf = make_leaf(tmp_path / "a", {"patterns": ["*.md"]}, {"a.md": "# A\n", **deep})
    [message] = _d018(check_leaf_documents(leaf, document_settings))
    assert "levels deep, over max_depth (24)" in message

    document_settings = replace(document_settings, max_listed_files=50)
    wide = make_leaf(tmp_path / "b", {"patterns": ["*.md"]}, {f"{n}.md": "# A\n" for n in range(60)})
    [message] = _d018(check_leaf_documents(wide, document_settings))
    assert "the leaf folder lists more than 50 files, over max_listed_files (50)" in message


def test_plain_validate_refuses_too_many_patterns_and_an_oversized_folder(tmp_path, capsys):
    many = make_leaf(tmp_path / "a", {"patterns": [f"part{n}.md" for n in range(21)]}, {"part0.md": "# A\n"})
    deep = make_leaf(tmp_path / "b", {"patterns": ["*.md", "x/*.md"]}, {f"{DEEP[:60]}/deep.md": "# Deep\n"})
    for leaf, said in ((many, "lists 21 patterns, over max_patterns (20)"), (deep, "over max_depth (24)")):
        assert main(["validate", "--format", "json", str(leaf.qna_path)]) == 1
        findings = json.loads(capsys.readouterr().out)["files"][0]["findings"]
        d018 = [f["message"] for f in findings if f["rule"] == "D018"]
        assert len(d018) == 1 and said in d018[0], findings


def test_selected_files_are_capped_before_any_is_fetched(tmp_path, document_settings):
    commit = make_repo_fast(tmp_path / "source", {f"docs/{n}.md": b"# A\n" for n in range(600)})
    leaf = make_leaf(tmp_path, _external(tmp_path, commit, ["docs/*.md"]))
    [message] = _d018(check_leaf_documents(leaf, document_settings))
    assert "the patterns select 600 files" in message and "over max_selected_files (500)" in message
    cached = next((tmp_path / "cache" / "repos").iterdir())
    blobs = subprocess.run(
        ["git", "--git-dir", str(cached), "cat-file", "--batch-all-objects", "--batch-check=%(objecttype)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert "blob" not in blobs  # decided on the trees alone


LIMITS = TextLimits(max_pages=2_000, max_chars=2_000_000, cap_name="max_document_chars")


@pytest.mark.parametrize(
    ("pages", "chars", "declared", "said"),
    [
        (10_000, 1_700_000, None, "has 10000 pages, over max_pdf_pages (2000)"),  # the review's file
        (10_000, 1_700_000, 1, "has 10000 pages, over max_pdf_pages (2000)"),  # its /Count lies
        (1_500, 1_700_000, None, "over max_document_chars (2000000)"),  # under the page cap
        (1, 9_000_000, None, "bytes of page content by page 1"),  # one page: sized before extraction
    ],
)
def test_a_pdf_stops_at_its_caps(pages, chars, declared, said):
    data = shared_stream_pdf(pages, chars, declared)
    with pytest.raises(Exception) as refused:
        read_pdf("manual.pdf", data, LIMITS)
    problem = refused.value.problem
    assert problem.rule == "D018" and said in problem.message, problem.message


def test_the_leaf_character_cap_stops_reading_the_next_documents(tmp_path, document_settings):
    files = {f"part{n}.md": "x" * 900 + "\n" for n in range(5)}
    document_settings = replace(document_settings, max_document_chars=1000, max_leaf_chars=2000)
    leaf = make_leaf(tmp_path, {"patterns": ["*.md"]}, files)
    [message] = _d018(check_leaf_documents(leaf, document_settings))
    assert message.startswith("part2.md yields 901 characters of text, over max_leaf_chars (198)")
    document_settings = replace(document_settings, max_document_chars=500)
    assert "over max_document_chars (500)" in _d018(check_leaf_documents(leaf, document_settings))[0]
    with pytest.raises(TaxonError, match="D018"):
        load_leaf_documents(leaf, document_settings)


def test_too_many_patterns_is_said_once_with_check_documents(tmp_path, capsys, repo_root):
    leaf = make_leaf(tmp_path, {"patterns": [f"part{n}.md" for n in range(21)]}, {"part0.md": "# A\n"})
    config = ["--config", str(repo_root / "taxon.toml"), "--set", f'documents.cache_dir="{tmp_path / "cache"}"']
    assert main(["validate", "--check-documents", "--format", "json", *config, str(leaf.qna_path)]) == 1
    findings = json.loads(capsys.readouterr().out)["files"][0]["findings"]
    assert [f["rule"] for f in findings].count("D018") == 1, findings
