"""External documents: real git repositories in tmp folders, served over file:// with the
test-only setting; everything else a hostile repository could try is refused."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace

import pytest
from document_helpers import git, make_leaf, make_repo

from taxon.core.errors import TaxonError
from taxon.core.settings import DocumentsSettings
from taxon.documents import check_leaf_documents, load_leaf_documents
from taxon.documents.git import check_repo_url, fetch_commit
from taxon.documents.records import DocumentProblem

BIRDS = "# Chickadees\n\nThe black-capped chickadee is a small bird.\n"


def external(repo, commit, patterns=("docs/*.md",)) -> dict:
    return {"repo": repo.as_uri(), "commit": commit, "patterns": list(patterns)}


def rules(findings) -> list[str]:
    return [finding.rule for finding in findings]


def test_pinned_commit_is_read_without_checkout_and_cached(tmp_path, document_settings):
    repo = tmp_path / "source"
    commit = make_repo(repo, {"docs/birds.md": BIRDS, "docs/notes.txt": "not matched", "README.md": "readme"})
    (repo / "docs" / "birds.md").write_text("changed after the pin")
    git(repo, "commit", "--quiet", "-am", "later")
    leaf = make_leaf(tmp_path, external(repo, commit))

    documents = load_leaf_documents(leaf, document_settings)

    assert [(d.name, d.text, d.source) for d in documents] == [("docs/birds.md", BIRDS, f"{repo.as_uri()}@{commit}")]
    cached = fetch_commit(repo.as_uri(), commit, document_settings)
    assert not (cached / "hooks").exists() and (cached / "shallow").is_file()
    shutil.rmtree(repo)  # the cache by (repo, commit) needs no network any more
    assert load_leaf_documents(leaf, document_settings) == documents
    assert check_leaf_documents(leaf, document_settings) == []


@pytest.mark.parametrize(
    "url",
    [
        "file:///tmp/repo",
        "ssh://host/repo",
        "git://host/repo",
        "http://host/repo",
        "git@host:repo",
        "/tmp/repo",
        "ext::sh -c touch% /tmp/pwned",
        "https://user:secret@host/repo",
        "https://",
        "https://[::1",
        "https://host/repo\x1b[31m",
    ],
)
def test_only_plain_https_urls_are_accepted_without_the_test_setting(url, tmp_path):
    settings = DocumentsSettings(cache_dir=str(tmp_path), fetch_timeout_s=5)
    with pytest.raises(DocumentProblem) as refused:
        check_repo_url(url, settings)
    assert refused.value.problem.rule == "D001"
    check_repo_url("https://github.com/org/repo", settings)


def test_file_url_refused_by_default_even_with_a_permissive_runner_config(tmp_path, document_settings, monkeypatch):
    repo = tmp_path / "source"
    commit = make_repo(repo, {"docs/birds.md": BIRDS})
    runner_config = tmp_path / "gitconfig"
    runner_config.write_text('[protocol "file"]\n\tallow = always\n')
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(runner_config))
    monkeypatch.setenv("GIT_ALLOW_PROTOCOL", "file:https")
    document_settings = replace(document_settings, allow_file_urls=False)
    leaf = make_leaf(tmp_path, external(repo, commit))

    assert rules(check_leaf_documents(leaf, document_settings)) == ["D001"]
    with pytest.raises(TaxonError, match="D001"):
        load_leaf_documents(leaf, document_settings)


def test_missing_short_and_absent_commits(tmp_path, document_settings):
    repo = tmp_path / "source"
    make_repo(repo, {"docs/birds.md": BIRDS})
    missing = make_leaf(tmp_path / "a", external(repo, "0123456789abcdef0123456789abcdef01234567"))
    short = make_leaf(tmp_path / "b", external(repo, "0123456"))
    unpinned = make_leaf(tmp_path / "c", {"repo": repo.as_uri(), "patterns": ["*.md"]})

    for leaf in (missing, short, unpinned):
        findings = check_leaf_documents(leaf, document_settings)
        assert rules(findings) == ["D003"]
    assert "is not in" in check_leaf_documents(missing, document_settings)[0].message


def test_unreachable_repository_and_timeout(tmp_path, document_settings):
    commit = make_repo(tmp_path / "source", {"docs/birds.md": BIRDS})
    gone = make_leaf(tmp_path / "a", external(tmp_path / "nowhere", commit))
    [unreachable] = check_leaf_documents(gone, document_settings)
    # a fixed category, never git's or the remote's words (they tell open ports from closed ones)
    assert unreachable.rule == "D002" and "cannot be fetched: check the URL and that it is public, or map it" in (
        unreachable.message
    )
    assert "fatal" not in unreachable.message

    document_settings = replace(document_settings, fetch_timeout_s=0.001)
    slow = make_leaf(tmp_path / "b", external(tmp_path / "source", commit))
    findings = check_leaf_documents(slow, document_settings)
    assert rules(findings) == ["D002"] and "timed out" in findings[0].message


def test_symlinks_submodules_and_files_outside_the_patterns_are_never_read(tmp_path, document_settings):
    repo = tmp_path / "source"
    make_repo(repo, {"docs/birds.md": BIRDS, "secret.md": "outside the patterns"})
    (repo / "docs" / "leak.md").symlink_to("/etc/passwd")
    git(repo, "add", "docs/leak.md")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{git(repo, 'rev-parse', 'HEAD')},docs/sub.md")
    git(repo, "commit", "--quiet", "-m", "links")
    leaf = make_leaf(tmp_path, external(repo, git(repo, "rev-parse", "HEAD")))

    findings = check_leaf_documents(leaf, document_settings)

    assert rules(findings) == ["D006", "D006"]
    assert {f.message.split()[0] for f in findings} == {"docs/leak.md", "docs/sub.md"}
    with pytest.raises(TaxonError, match="never followed"):
        load_leaf_documents(leaf, document_settings)


def test_objects_failing_fsck_are_refused(tmp_path, document_settings):
    """A tree with an entry named '.git' (which a checkout would obey) never gets past fetch."""
    repo = tmp_path / "source"
    make_repo(repo, {"docs/birds.md": BIRDS})
    blob = bytes.fromhex(git(repo, "rev-parse", "HEAD:docs/birds.md"))
    tree = (
        subprocess.run(
            ["git", "-C", str(repo), "hash-object", "-w", "-t", "tree", "--literally", "--stdin"],
            input=b"100644 .git\0" + blob + b"100644 birds.md\0" + blob,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .strip()
    )
    commit = git(repo, "commit-tree", tree, "-m", "hostile")
    git(repo, "update-ref", "refs/heads/hostile", commit)
    leaf = make_leaf(tmp_path, external(repo, commit, patterns=["*.md"]))

    [finding] = check_leaf_documents(leaf, document_settings)

    assert finding.rule == "D012" and "hasDotgit" in finding.message


def test_size_caps_per_file_and_per_leaf(tmp_path, document_settings):
    repo = tmp_path / "source"
    files = {"docs/a.md": "a" * 300, "docs/b.md": "b" * 300, "docs/c.md": "c" * 2000, "docs/d.md": "d" * 300}
    commit = make_repo(repo, files)
    document_settings = replace(document_settings, max_file_bytes=1000, max_leaf_bytes=700)
    leaf = make_leaf(tmp_path, external(repo, commit))

    findings = check_leaf_documents(leaf, document_settings)

    assert rules(findings) == ["D007", "D008"]
    assert "docs/c.md has 2000 bytes" in findings[0].message and "at docs/d.md" in findings[1].message


def test_binary_lfs_and_unsupported_files_are_refused(tmp_path, document_settings):
    lfs_pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 12\n"
    repo = tmp_path / "source"
    commit = make_repo(repo, {"docs/a.md": b"\x89PNG\0\0", "docs/big.md": lfs_pointer, "docs/c.docx": b"PK\x03\x04"})
    leaf = make_leaf(tmp_path, external(repo, commit, patterns=["docs/*"]))

    findings = check_leaf_documents(leaf, document_settings)

    assert sorted((f.rule, f.message.split()[0]) for f in findings) == [
        ("D009", "docs/c.docx:"),
        ("D010", "docs/a.md"),
        ("D010", "docs/big.md"),
    ]
    assert any("LFS" in f.message for f in findings)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/org/repo",
        "https://localhost/org/repo",
        "https://[::1]/org/repo",
        "https://10.1.2.3/org/repo",
        "https://192.168.0.10:8443/org/repo",
        "https://169.254.169.254/latest/meta-data",
        "https://[fe80::1]/org/repo",
        "https://[::ffff:127.0.0.1]/org/repo",
        "https://[::ffff:8.8.8.8]/org/repo",
        "https://0.0.0.0/org/repo",
        # IPv6 forms embedding an internal IPv4 address (passed at 4aefe72)
        "https://[64:ff9b::a00:5]/org/repo",  # NAT64, well-known prefix -> 10.0.0.5
        "https://[64:ff9b::192.168.1.1]/org/repo",
        "https://[64:ff9b::a9fe:a9fe]/latest/meta-data",  # -> 169.254.169.254
        "https://[64:ff9b:1::a00:5]/org/repo",  # NAT64, local-use prefix (RFC 8215)
        "https://[64:ff9b:1:a:b::1]/org/repo",
        "https://[2002:7f00:1::]/org/repo",  # 6to4 -> 127.0.0.1
        "https://[2002:c0a8:101::1]/org/repo",  # 6to4 -> 192.168.1.1
        "https://[::7f00:1]/org/repo",  # IPv4-compatible -> 127.0.0.1
        "https://[::10.0.0.1]/org/repo",
        "https://[::ffff:0:7f00:1]/org/repo",  # IPv4-translated (SIIT) -> 127.0.0.1
        "https://[::ffff:0:a00:1]/org/repo",
        "https://[2001:0:4136:e378:8000:63bf:f5ff:fffe]/org/repo",  # Teredo, client 10.0.0.1
        "https://[2a00:1450::5efe:a00:1]/org/repo",  # ISATAP -> 10.0.0.1
        "https://[2a00:1450::200:5efe:c0a8:1]/org/repo",  # ISATAP, universal id -> 192.168.0.1
    ],
)
def test_hosts_on_the_runners_network_are_refused_before_git_runs(url, tmp_path, document_settings):
    """The host is resolved and checked first: no connection is ever tried, so nothing tells
    an open port from a closed one."""
    leaf = make_leaf(tmp_path, {"repo": url, "commit": "a" * 40, "patterns": ["*.md"]})
    [refused] = check_leaf_documents(leaf, document_settings)
    assert refused.rule == "D001" and "loopback, private, link-local or IPv4-mapped" in refused.message, refused
    assert not (tmp_path / "cache" / "repos").exists() or not any((tmp_path / "cache" / "repos").iterdir())


@pytest.mark.parametrize(
    "address",
    ["64:ff9b::808:808", "2002:808:808::1", "2a00:1450::5efe:808:808", "2a00:1450:4001:82b::200e"],
)
def test_ipv6_forms_embedding_a_public_ipv4_address_pass(address):
    """NAT64, 6to4 and ISATAP of 8.8.8.8, a plain public address (Teredo's 2001::/32 is never
    global: refused whatever it holds)."""
    from taxon.documents.git import network_config

    assert network_config(f"https://[{address}]/org/repo") == {"http.followRedirects": "false"}


def test_a_public_host_is_pinned_to_its_checked_addresses_and_redirects_are_off(monkeypatch):
    import socket

    from taxon.documents.git import network_config

    answers = {
        "docs.example.org": ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"],
        "evil.example": ["10.0.0.7"],
        "nat64.example": ["93.184.215.14", "64:ff9b::a9fe:a9fe"],  # one answer leads inside
    }

    def resolver(host, port, *args, **kwargs):  # the system's DNS, answering as a zone would
        return [
            (socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port))
            for a in answers[host]
        ]

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    assert network_config("https://docs.example.org/org/repo") == {
        "http.followRedirects": "false",
        "http.curloptResolve": "docs.example.org:443:[2606:2800:21f:cb07:6820:80da:af6b:8b2c],93.184.215.14",
    }
    for host in ("evil.example", "nat64.example"):
        with pytest.raises(DocumentProblem, match="loopback, private"):
            network_config(f"https://{host}/org/repo")
    monkeypatch.undo()
    config = network_config("https://93.184.215.14/org/repo")  # an IP literal: nothing to pin
    assert config == {"http.followRedirects": "false"}
    assert network_config("file:///tmp/repo") == {"http.followRedirects": "false"}


def test_a_commits_documents_are_read_by_one_git_process(tmp_path, document_settings, monkeypatch):
    """Names come from the trees (`ls-tree` without sizes, no blob needed); the chosen blobs
    are fetched by one `git fetch --stdin`, sized locally and read by one `git cat-file
    --batch` (counted by a git wrapper earlier on PATH)."""
    files = {f"docs/part{n}.md": f"# Part {n}\n\nText {n}.\n" for n in range(12)}
    commit = make_repo(tmp_path / "source", files)
    leaf = make_leaf(tmp_path, external(tmp_path / "source", commit))
    real_git = shutil.which("git")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "git-calls.log"
    (bin_dir / "git").write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real_git} "$@"\n')
    (bin_dir / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    documents = load_leaf_documents(leaf, document_settings)
    assert [d.name for d in documents] == sorted(files)
    calls = log.read_text().splitlines()
    assert sum(call.endswith("cat-file --batch") for call in calls) == 1
    assert not any("cat-file blob" in call for call in calls)
    assert sum("ls-tree -r -z" in call for call in calls) == 1 and not any("ls-tree -r -l" in c for c in calls)
    assert sum(" fetch " in call and "--stdin" in call for call in calls) == 1


# ------------------------------------------------------------------ only the selected blobs are fetched


def _objects_bytes(git_dir) -> int:
    return sum(path.stat().st_size for path in (git_dir / "objects").rglob("*") if path.is_file())


def test_a_big_unrelated_blob_is_never_fetched(tmp_path, document_settings):
    """The commit comes with its trees only; the one selected blob follows. A 50-byte
    document beside an 8 MiB blob left 8 MiB in the cache before (--depth=1 fetches all)."""
    repo = tmp_path / "source"
    big = os.urandom(8 << 20)  # incompressible: it would show in the cache
    commit = make_repo(repo, {"docs/birds.md": BIRDS, "assets/video.mp4": big, "docs/notes.txt": "x" * 5000})
    big_id = git(repo, "rev-parse", f"{commit}:assets/video.mp4")
    leaf = make_leaf(tmp_path, external(repo, commit))

    assert [d.name for d in load_leaf_documents(leaf, document_settings)] == ["docs/birds.md"]

    cached = fetch_commit(repo.as_uri(), commit, document_settings)
    assert _objects_bytes(cached) < 64 << 10
    missing = subprocess.run(["git", "--git-dir", str(cached), "cat-file", "-e", big_id], capture_output=True)
    assert missing.returncode != 0
    assert (
        subprocess.run(  # no remote is left for git to fetch a missing object from by itself
            ["git", "--git-dir", str(cached), "config", "--get-regexp", "^remote"], capture_output=True
        ).stdout
        == b""
    )


def test_a_selected_blob_past_the_leaf_cap_stops_the_download(tmp_path, document_settings):
    repo = tmp_path / "source"
    commit = make_repo(repo, {"docs/birds.md": BIRDS, "docs/huge.md": os.urandom(6 << 20).hex()[: 6 << 20]})
    document_settings = replace(document_settings, max_leaf_bytes=100_000, max_file_bytes=100_000)
    leaf = make_leaf(tmp_path, external(repo, commit))

    findings = check_leaf_documents(leaf, document_settings)

    assert rules(findings) == ["D008"] and "while downloading" in findings[0].message
    cached = fetch_commit(repo.as_uri(), commit, document_settings)
    assert not list((cached / "objects" / "pack").glob("tmp_*"))


def test_a_server_that_ignores_the_filter_is_refused(tmp_path, document_settings):
    repo = tmp_path / "source"
    commit = make_repo(repo, {"docs/birds.md": BIRDS, "assets/big.bin": os.urandom(1 << 20)})
    git(repo, "config", "uploadpack.allowFilter", "false")  # a server without partial fetches
    leaf = make_leaf(tmp_path, external(repo, commit))

    findings = check_leaf_documents(leaf, document_settings)

    assert rules(findings) == ["D002"] and "ignores partial fetches" in findings[0].message
    assert not (tmp_path / "cache" / "repos").exists() or not any((tmp_path / "cache" / "repos").iterdir())


def test_a_missing_blob_is_never_fetched_behind_the_checks(tmp_path, document_settings):
    """Once the commit is cached, the source may be gone: a document the patterns now select
    (its blob never fetched) is an error, never a fetch by git on its own."""
    repo = tmp_path / "source"
    commit = make_repo(repo, {"docs/birds.md": BIRDS, "docs/more.txt": "more"})
    assert check_leaf_documents(make_leaf(tmp_path / "a", external(repo, commit)), document_settings) == []
    shutil.rmtree(repo)
    wider = make_leaf(tmp_path / "b", external(repo, commit, patterns=("docs/*",)))
    assert rules(check_leaf_documents(wider, document_settings)) == ["D002"]
