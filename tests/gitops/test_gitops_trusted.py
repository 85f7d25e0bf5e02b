"""Which workflow runs a trusted job may take artifacts from, and how it takes them: the
selection rules of taxon.gitops.trusted on the REST API's run objects, digests, archives."""

import io
import tarfile
import zipfile

import pytest

from support.github_payloads import workflow_run
from taxon.core.errors import TaxonError
from taxon.gitops import gate, trusted
from taxon.gitops.restore import unit_key_of

REPO_ID = 4242
SHA_NEW, SHA_OLD, SHA_OLDER = "c" * 40, "b" * 40, "a" * 40


def _run(run_id=1, sha=SHA_NEW, **fields):
    return workflow_run(run_id, sha, "octo/taxonomy", REPO_ID, **fields)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({}, None),
        ({"event": "workflow_dispatch"}, None),
        ({"event": "pull_request"}, "started by a 'pull_request' event"),
        ({"event": "pull_request_target"}, "started by a 'pull_request_target' event"),
        ({"event": "workflow_run"}, "started by a 'workflow_run' event"),
        ({"head_branch": "feature"}, "ran on 'feature', not on main"),
        ({"head_repository": {"id": 999}}, "ran another repository's code (a fork)"),
        ({"repository": {"id": 999}}, "ran another repository's code (a fork)"),
        ({"head_repository": None}, "ran another repository's code (a fork)"),
        ({"path": ".github/workflows/samples.yml"}, "not of .github/workflows/train.yml"),
        ({"conclusion": "failure"}, "did not succeed (failure)"),
        ({"conclusion": None}, "did not succeed (None)"),
    ],
)
def test_only_successful_push_and_manual_runs_of_this_repository_are_trusted(fields, reason):
    found = trusted.untrusted_reason(_run(**fields), REPO_ID, {"main"})
    assert found == reason if reason is None else reason in found


def test_a_tag_run_is_trusted_only_for_that_tag():
    run = _run(head_branch="v2", event="workflow_dispatch")
    assert trusted.untrusted_reason(run, REPO_ID, {"main", "v2"}) is None
    assert "ran on 'v2'" in trusted.untrusted_reason(run, REPO_ID, {"main"})


def test_the_newest_commit_with_a_trusted_run_wins_and_of_its_runs_the_latest():
    runs = [
        _run(9, SHA_NEW, event="pull_request_target"),  # newest commit, untrusted
        _run(7, SHA_OLD),
        _run(8, SHA_OLD),  # a re-run of the same commit
        _run(5, SHA_OLDER),
        _run(6, "d" * 40),  # not in main's history
    ]
    chosen = trusted.trusted_runs(runs, REPO_ID, {"main"}, [SHA_NEW, SHA_OLD, SHA_OLDER])
    assert [run["id"] for run in chosen] == [8, 7, 5]
    assert trusted.trusted_runs(runs[:1], REPO_ID, {"main"}, [SHA_NEW]) == []


def test_an_artifact_counts_only_from_its_own_run_with_a_digest():
    run = _run(3)
    good = {"id": 1, "name": "bundle-x", "digest": "sha256:" + "0" * 64, "workflow_run": {"id": 3}, "expired": False}
    assert trusted.select_artifact([good], "bundle-x", run) == good
    for bad in (
        {**good, "workflow_run": {"id": 4}},
        {**good, "expired": True},
        {**good, "digest": None},
        {**good, "name": "bundle-y"},
    ):
        assert trusted.select_artifact([bad], "bundle-x", run) is None


def test_a_download_must_match_its_recorded_digest(tmp_path):
    path = tmp_path / "a.zip"
    path.write_bytes(b"content")
    digest = trusted.check_digest(path, "sha256:ed7002b439e9ac845f22357d822bac1444730fbdb6016d3ec9432297b9ec9f73", "x")
    assert digest.startswith("sha256:ed70")
    with pytest.raises(TaxonError, match="does not match the digest GitHub recorded"):
        trusted.check_digest(path, "sha256:" + "0" * 64, "artifact x")


def test_unit_entry_names_are_their_keys():
    key = "ab" + "1" * 62
    assert unit_key_of(f"ab/{key}.json") == key
    for bad in (f"cd/{key}.json", f"ab/{key}.txt", f"ab/sub/{key}.json", "ab/short.json", f"../{key}.json"):
        assert unit_key_of(bad) is None


def test_a_bundle_archive_with_a_link_or_a_stray_path_is_refused(tmp_path):
    def archive(*members):
        path = tmp_path / f"{len(list(tmp_path.iterdir()))}.tar.gz"
        with tarfile.open(path, "w:gz") as tar:
            for info in members:
                tar.addfile(info, io.BytesIO(b"x") if info.isfile() else None)
        return path

    def member(name, kind=tarfile.REGTYPE, link=""):
        info = tarfile.TarInfo(name)
        info.type, info.linkname, info.size = kind, link, 1 if kind == tarfile.REGTYPE else 0
        return info

    assert trusted.extract_bundle_archive(archive(member("bundle/a.json")), tmp_path / "ok") == tmp_path / "ok/bundle"
    for bad in (
        member("bundle/evil", tarfile.SYMTYPE, "/etc/passwd"),
        member("other/a.json"),
        member("bundle/../../x"),
    ):
        with pytest.raises(TaxonError, match="the bundle archive holds"):
            trusted.extract_bundle_archive(archive(bad), tmp_path / "out")


def test_a_zip_with_a_link_is_refused(tmp_path):
    path = tmp_path / "link.zip"
    with zipfile.ZipFile(path, "w") as archive:
        info = zipfile.ZipInfo("ab/link.json")
        info.external_attr = 0o120777 << 16
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(TaxonError, match="not a plain file"):
        trusted.zip_members(path)


def test_baselines_are_named_for_people():
    report = {"baselines": ["/models/base-model", "/tmp/previous/bundle"]}
    labels = gate.baseline_labels(report, "/tmp/previous/bundle", "v3")
    assert labels == {"/models/base-model": "base model `base-model`", "/tmp/previous/bundle": "release v3"}
    assert gate.baseline_labels(report, None, None)["/tmp/previous/bundle"] == "base model `bundle`"


def test_pull_request_numbers_of_merge_and_squash_commits():
    assert gate.MergedChange("a", "Merge pull request #12 from x/y").pull_request == 12
    assert gate.MergedChange("a", "Plural nouns (#34)").pull_request == 34
    assert gate.MergedChange("a", "direct push").pull_request is None
