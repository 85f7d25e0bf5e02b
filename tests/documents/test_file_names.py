"""Document and taxonomy file names that are not UTF-8, or hold a control or invisible
character, are refused by validate (T003, D017), and nothing later crashes on them: not the
leaf's content hash, not generate, not a report printed as text, GitHub commands or JSON."""

from __future__ import annotations

import json
import os

import pytest
from document_helpers import git, make_leaf, serve_partial_fetches

from support.paths import REPO
from support.scripted_openai import ScriptedServer
from taxon.cli import main
from taxon.core.errors import TaxonError
from taxon.documents import check_leaf_documents, load_leaf_documents

BIRDS = b"# Chickadees\n\nThe black-capped chickadee is a small bird.\n"
NAMES = {
    "latin-1 bytes": b"caf\xe9.md",
    "a lone continuation byte": b"notes\x80.md",
    "an overlong slash": b"a\xc0\xafb.md",
    "a newline and a workflow command": b"x\n::error::forged.md",
    "an escape sequence": b"red\x1b[31m.md",
    "a zero width space": "bi\u200brds.md".encode(),
    "a variation selector": "birds\U000e0101.md".encode(),
    "a line separator": "a\u2028b.md".encode(),
}


def _write_raw(folder, name: bytes, data: bytes) -> None:
    with open(os.path.join(os.fsencode(folder), name), "wb") as handle:
        handle.write(data)


@pytest.mark.parametrize("what", sorted(NAMES))
def test_in_tree_name_is_refused_at_validate_and_never_crashes_later(tmp_path, document_settings, capsys, what):
    leaf = make_leaf(tmp_path, {"patterns": ["*.md"]}, {"birds.md": BIRDS})
    _write_raw(leaf.folder, NAMES[what], BIRDS)

    assert len(leaf.content_hash()) == 64  # the hash every stage keys on
    findings = check_leaf_documents(leaf, document_settings)
    assert [f.rule for f in findings] == ["D017"], findings
    assert "\n" not in findings[0].message and "\udce9" not in findings[0].message
    with pytest.raises(TaxonError) as refused:
        load_leaf_documents(leaf, document_settings)
    assert "D017" in str(refused.value)

    taxonomy = str(tmp_path / "taxonomy")
    for fmt in ("text", "github", "json", "sarif"):
        assert main(["validate", "--format", fmt, taxonomy]) == 1
        out = capsys.readouterr().out
        assert "T003" in out and not any(line.startswith("::error::forged") for line in out.splitlines())
        if fmt in ("json", "sarif"):
            json.loads(out)


def test_a_fetched_commits_name_that_is_not_utf8_is_refused(tmp_path, document_settings):
    repo = tmp_path / "source"
    repo.mkdir()
    git(repo, "init", "--quiet")
    serve_partial_fetches(repo)
    (repo / "docs").mkdir()
    _write_raw(repo / "docs", b"caf\xe9.md", BIRDS)
    _write_raw(repo / "docs", b"birds.md", BIRDS)
    git(repo, "add", "--all")
    git(repo, "commit", "--quiet", "-m", "documents")
    commit = git(repo, "rev-parse", "HEAD")
    leaf = make_leaf(tmp_path, {"repo": repo.as_uri(), "commit": commit, "patterns": ["docs/*.md"]})

    findings = check_leaf_documents(leaf, document_settings)

    assert [(f.rule, f.message.split(":")[0]) for f in findings] == [("D017", "docs/caf\\xe9.md")]


def test_generate_reports_the_name_instead_of_crashing(tmp_path, capsys):
    leaf = make_leaf(tmp_path, {"patterns": ["*.md"]}, {"birds.md": BIRDS})
    _write_raw(leaf.folder, b"caf\xe9.md", BIRDS)
    with ScriptedServer() as teacher:
        code = main(
            ["generate", str(tmp_path / "taxonomy"), "--out", str(tmp_path / "out"), "--quiet"]
            + ["--config", str(REPO / "taxon.toml"), "--backend", "openai", "--teacher", "scripted"]
            + ["--set", f'teacher.base_url="{teacher.base_url}"', "--set", f'generate.cache_dir="{tmp_path / "cache"}"']
        )
    assert code != 0 and "D017" in capsys.readouterr().err
