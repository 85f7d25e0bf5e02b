"""[documents] mirrors: a document repository fetched from the organisation's own copy (a
folder holding a clone, a file:// or internal https:// URL) while the qna.yaml keeps its
public URL and pinned commit; and what D002 says when there is no way to the repository."""

from __future__ import annotations

import shutil

import pytest
from document_helpers import git, make_leaf, make_repo

from taxon.core.config import load_config
from taxon.core.errors import UsageError
from taxon.core.settings import DocumentsSettings
from taxon.documents import check_leaf_documents, load_leaf_documents
from taxon.documents.mirrors import mirror_for

BIRDS = "# Chickadees\n\nThe black-capped chickadee is a small bird.\n"
PUBLIC = "https://github.com/example-org/bird-docs"  # never contacted: .invalid hosts below, mirrors here


@pytest.fixture
def offline_config(tmp_path, repo_root):
    """The repository's config as a maintainer has it (file:// repositories refused), caches in tmp."""

    def make(mirrors: dict[str, str]) -> DocumentsSettings:
        overrides = {"documents": {"cache_dir": str(tmp_path / "cache"), "mirrors": mirrors}}
        return load_config(path=repo_root / "taxon.toml", overrides=overrides).documents

    return make


def document(commit: str, repo: str = PUBLIC) -> dict:
    return {"repo": repo, "commit": commit, "patterns": ["docs/*.md"]}


def test_a_folder_holding_a_clone_serves_the_pinned_commit(tmp_path, offline_config):
    commit = make_repo(tmp_path / "origin", {"docs/birds.md": BIRDS})
    shutil.copytree(tmp_path / "origin", tmp_path / "mirrors" / "bird-docs")
    leaf = make_leaf(tmp_path, document(commit))
    config = offline_config({f"{PUBLIC}.git": str(tmp_path / "mirrors" / "bird-docs")})
    documents = load_leaf_documents(leaf, config)
    assert [(d.name, d.text, d.source) for d in documents] == [("docs/birds.md", BIRDS, f"{PUBLIC}@{commit}")]
    assert check_leaf_documents(leaf, config) == []
    shutil.rmtree(tmp_path / "mirrors")  # cached by the repository and commit, wherever they came from
    assert load_leaf_documents(leaf, offline_config({})) == documents


def test_a_prefix_maps_every_repository_under_it_and_the_longest_key_wins(tmp_path, repo_root):
    commit = make_repo(tmp_path / "mirrors" / "example-org" / "bird-docs", {"docs/birds.md": BIRDS})
    leaf = make_leaf(tmp_path, document(commit))
    shutil.copy(repo_root / "taxon.toml", tmp_path / "taxon.toml")  # a folder is relative to taxon.toml
    mirrors = {"https://github.com/": "mirrors", "https://github.com/other/": "/nowhere"}
    overrides = {"documents": {"cache_dir": str(tmp_path / "cache"), "mirrors": mirrors}}
    config = load_config(path=tmp_path / "taxon.toml", overrides=overrides).documents
    assert [d.text for d in load_leaf_documents(leaf, config)] == [BIRDS]
    bare = tmp_path / "bare.git"
    git(tmp_path, "clone", "--quiet", "--bare", str(tmp_path / "mirrors" / "example-org" / "bird-docs"), str(bare))
    mirrors = {"https://GitHub.com/": "/elsewhere", f"{PUBLIC}/": bare.as_uri()}
    assert mirror_for(PUBLIC, mirrors) == bare.as_uri()
    assert mirror_for("https://github.com/a/b.git", mirrors) == "file:///elsewhere/a/b"
    assert mirror_for("https://gitlab.com/a/b", mirrors) is None


def test_a_mirror_without_the_commit_or_of_a_refused_kind_says_so(tmp_path, offline_config):
    commit = make_repo(tmp_path / "origin", {"docs/birds.md": BIRDS})
    make_repo(tmp_path / "stale", {"docs/other.md": "An older copy of the repository."})
    leaf = make_leaf(tmp_path, document(commit))
    [stale] = check_leaf_documents(leaf, offline_config({PUBLIC: str(tmp_path / "stale")}))
    assert stale.rule == "D003" and f"[documents] mirrors of '{PUBLIC}'" in stale.message
    assert "pin a commit that is pushed to the mirror: update it from the repository" in stale.message
    [refused] = check_leaf_documents(leaf, offline_config({PUBLIC: "ssh://git.example.com/bird-docs"}))
    assert refused.rule == "D001" and "use an https:// or file:// URL, or a folder" in refused.message
    [missing] = check_leaf_documents(leaf, offline_config({PUBLIC: str(tmp_path / "no_such_folder")}))
    assert missing.rule == "D002" and "check that the mirror is a git repository" in missing.message


def test_an_unreachable_repository_names_the_two_ways_out(tmp_path, offline_config):
    leaf = make_leaf(tmp_path, document("ab" * 20, repo="https://docs.example.invalid/org/bird-docs"))
    [finding] = check_leaf_documents(leaf, offline_config({}))
    assert finding.rule == "D002" and "its host does not resolve" in finding.message
    assert "[documents] mirrors of taxon.toml" in finding.message and "vendor the document" in finding.message


def test_mirrors_must_map_text_to_text(repo_root):
    with pytest.raises(UsageError, match=r"documents\.mirrors must be a table of str to str"):
        load_config(path=repo_root / "taxon.toml", overrides={"documents": {"mirrors": {"https://a/b": 3}}})


def test_a_host_of_the_organisations_own_network_is_reached_through_a_mirror_only(tmp_path, offline_config):
    """A repository on a private address is refused as a leaf's URL (a contribution must not
    point the runner into its network); the maintainer's mirror map is how it is reached."""
    commit = make_repo(tmp_path / "internal", {"docs/birds.md": BIRDS})
    internal = "https://10.1.2.3/docs/bird-docs"
    leaf = make_leaf(tmp_path, document(commit, repo=internal))
    [refused] = check_leaf_documents(leaf, offline_config({}))
    assert refused.rule == "D001" and "reached through [documents] mirrors" in refused.message
    assert check_leaf_documents(leaf, offline_config({internal: str(tmp_path / "internal")})) == []
