"""`taxon init`: a new taxonomy repository works out of the box. In a real git repository: its
example leaves validate, a contribution goes through the generated pull-request workflow's
steps (classify, validate, summary), and pre-commit runs taxon's exported hook at the pinned
revision, passing a good leaf and failing a bad one. The pin is a commit: a tag resolved once,
a branch, an unresolvable name, an insecure source or shell metacharacters refused."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from runner import Runner

from support.taxonomy_repo import REPO, add_leaf, commit_all, git
from taxon.cli import main
from taxon.core.errors import UsageError
from taxon.core.github import SAMPLES_LABEL
from taxon.scaffold import CARRIED_REQUIREMENTS, resolve_pin

BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def source_rev() -> str:
    """This repository's HEAD: the revision the new repository pins."""
    return git(REPO, "rev-parse", "HEAD")


@pytest.fixture
def upstream(tmp_path, source_rev) -> Path:
    repo = tmp_path / "acme-taxonomy"
    assert main(["init", str(repo), "--source", str(REPO), "--rev", source_rev]) == 0
    git(repo, "init", "-q", "-b", "main")
    commit_all(repo, "taxon init")
    git(repo, "update-ref", "refs/remotes/origin/main", "main")
    return repo


def taxon(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "taxon"), *args], cwd=repo, capture_output=True, text=True)


def test_the_new_repository_has_its_files_and_its_examples_validate(upstream):
    for name in ("taxon.toml", "CONTRIBUTING.md", "SECURITY.md", "README.md", ".pre-commit-config.yaml", ".gitignore"):
        assert (upstream / name).is_file(), name
    kinds = sorted(p.name for p in (upstream / "taxonomy").iterdir())
    assert kinds == ["compositional_skills", "foundational_skills", "knowledge"]
    assert all(len(list((upstream / "taxonomy" / kind).rglob("qna.yaml"))) == 1 for kind in kinds)
    result = taxon(upstream, "validate")
    assert result.returncode == 0 and "3 files checked, 0 errors" in result.stdout, result.stdout + result.stderr
    assert "# acme-taxonomy" in (upstream / "README.md").read_text()


def test_every_workflow_installs_the_pinned_taxon(upstream, source_rev):
    workflows = sorted((upstream / ".github" / "workflows").glob("*.yml"))
    assert [w.name for w in workflows] == sorted(p.name for p in (REPO / ".github" / "workflows").glob("*.yml"))
    installs = []
    for workflow in workflows:
        text = workflow.read_text()
        assert " -e " not in text and "make test" not in text, workflow.name
        yaml.safe_load(text)
        installs += [line for line in text.splitlines() if "install" in line and "taxon" in line and "pip" in line]
    assert installs and all(f"@ git+{REPO.as_uri()}@{source_rev}'" in line for line in installs), installs
    # under the same pins as this repository: the files carried along
    assert all("-c requirements/constraints.txt" in line or "-c requirements/gpu.txt" in line for line in installs)
    for name in CARRIED_REQUIREMENTS:
        assert (upstream / name).read_text() == (REPO / name).read_text(), name
    jobs = yaml.safe_load((upstream / ".github/workflows/pull-request.yml").read_text())["jobs"]
    assert "lint" not in jobs  # no Makefile, no test suite: the code job validates the whole tree
    assert jobs["test"]["steps"][-1]["run"] == "taxon validate --check-documents"
    assert "--check-documents" in str(jobs["validate"]["steps"])
    assert "make " not in (upstream / ".github/workflows/pull-request.yml").read_text()
    check = subprocess.run(
        [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *map(str, workflows)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_contribution_goes_through_the_pull_request_workflow(upstream, tmp_path):
    workspace = tmp_path / "workspace"
    git(tmp_path, "clone", "-q", str(upstream), str(workspace))
    git(workspace, "checkout", "-q", "-b", "contribution")
    add_leaf(
        workspace, "foundational_skills/reasoning/odd_or_even", "foundational_skills/reasoning/arithmetic/odd_or_even"
    )
    head = commit_all(workspace, "a leaf")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    event = {"number": 1, "pull_request": {"number": 1, "head": {"sha": head, "ref": "contribution"}}}
    runner = Runner(workspace, temp, "pull_request", event, base_ref="main", head_ref="contribution")
    workflow = workspace / ".github" / "workflows" / "pull-request.yml"
    classify = runner.run_job(workflow, "classify")
    assert [r.returncode for r in classify] == [0], [r.stdout + r.stderr for r in classify]
    assert classify[0].outputs["kind"] == "contribution"
    assert classify[0].outputs["leaves"] == "foundational_skills/reasoning/odd_or_even"
    validate = runner.run_job(workflow, "validate")
    assert [r.returncode for r in validate] == [0, 0, 0], [r.stdout + r.stderr for r in validate]
    assert "Validation passed" in runner.summary_file.read_text()


def test_pre_commit_runs_the_pinned_hook(upstream, tmp_path):
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "pre-commit"), "PRE_COMMIT_COLOR": "never"}

    def pre_commit(*args):
        return subprocess.run([str(BIN / "pre-commit"), *args], cwd=upstream, env=env, capture_output=True, text=True)

    passed = pre_commit("run", "--all-files")
    assert passed.returncode == 0 and "taxon validate" in passed.stdout, passed.stdout + passed.stderr
    bad = upstream / "taxonomy" / "compositional_skills" / "unfinished" / "qna.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("version: 4\ncreated_by: someone\n")
    git(upstream, "add", "-A")
    failed = pre_commit("run", "--all-files")
    assert (
        failed.returncode == 1 and "taxonomy/compositional_skills/unfinished/qna.yaml:1:1: error S001" in failed.stdout
    )


def test_its_files_agree_with_each_other(upstream, source_rev):
    """CONTRIBUTING names the label the samples workflow reacts to; the hook pins the workflows' commit."""
    samples = (upstream / ".github/workflows/samples.yml").read_text()
    assert f"github.event.label.name == '{SAMPLES_LABEL}'" in samples
    assert f"`{SAMPLES_LABEL}` label" in (upstream / "CONTRIBUTING.md").read_text()
    hook = yaml.safe_load((upstream / ".pre-commit-config.yaml").read_text())["repos"][0]
    assert hook["rev"] == source_rev


# ------------------------------------------------------------------ the pin


@pytest.fixture(scope="module")
def taxon_source(tmp_path_factory) -> dict:
    """A source repository with two commits, a lightweight and an annotated tag, and branches."""
    source = tmp_path_factory.mktemp("source") / "taxon"
    source.mkdir()
    git(source, "init", "-q", "-b", "main")
    (source / "README.md").write_text("one\n")
    first = commit_all(source, "one")
    git(source, "tag", "v0.1.0")
    (source / "README.md").write_text("two\n")
    second = commit_all(source, "two")
    git(source, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "tag", "-a", "v0.2.0", "-m", "two")
    git(source, "branch", "develop")
    return {"path": str(source), "first": first, "second": second}


def test_a_tag_is_resolved_once_to_its_commit(taxon_source):
    assert resolve_pin(taxon_source["path"], "v0.1.0").commit == taxon_source["first"]
    annotated = resolve_pin(taxon_source["path"], "v0.2.0")  # the tag object peeled to its commit
    assert annotated.commit == taxon_source["second"] and annotated.verified


def test_the_init_command_writes_the_commit_and_says_which(taxon_source, tmp_path, capsys):
    assert main(["init", str(tmp_path / "new"), "--source", taxon_source["path"], "--rev", "v0.1.0"]) == 0
    assert f"v0.1.0 = {taxon_source['first']}" in capsys.readouterr().out
    workflow = (tmp_path / "new/.github/workflows/pull-request.yml").read_text()
    assert f"@{taxon_source['first']}'" in workflow and "@v0.1.0" not in workflow


@pytest.mark.parametrize("rev", ["main", "develop", "HEAD"])
def test_a_branch_is_refused(taxon_source, rev):
    with pytest.raises(UsageError, match="moves"):
        resolve_pin(taxon_source["path"], rev)


@pytest.mark.parametrize("rev", ["v9.9.9", "v0.1", "release-1"])
def test_a_revision_the_source_lacks_is_refused(taxon_source, rev):
    with pytest.raises(UsageError, match="has no tag") as refused:
        resolve_pin(taxon_source["path"], rev)
    assert "v0.1.0" in refused.value.hint  # its tags are named


def test_a_full_commit_is_checked_at_the_source(taxon_source):
    assert resolve_pin(taxon_source["path"], taxon_source["first"]).verified  # not a ref tip: fetched by id
    with pytest.raises(UsageError, match="is not in"):
        resolve_pin(taxon_source["path"], "0" * 40)
    pinned = resolve_pin(taxon_source["path"], "0" * 40, unverified=True)
    assert pinned.commit == "0" * 40 and not pinned.verified


def test_an_unverified_pin_is_said_loudly(tmp_path, capsys):
    unreachable = "https://taxon.invalid/o/taxon"
    assert main(["init", str(tmp_path / "new"), "--source", unreachable, "--rev", "a" * 40, "--unverified"]) == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and "UNVERIFIED" in err and "a" * 40 in err
    assert main(["init", str(tmp_path / "other"), "--source", unreachable, "--rev", "v0.1.0"]) == 2
    assert not (tmp_path / "other").exists()


@pytest.mark.parametrize(
    "source",
    ["http://github.com/o/taxon", "HTTP://github.com/o/taxon", "git://github.com/o/taxon", "ftp://example.org/taxon"],
)
def test_an_insecure_source_is_refused(source):
    with pytest.raises(UsageError, match="nothing checks what it serves"):
        resolve_pin(source, "v0.1.0")


@pytest.mark.parametrize(
    "rev",
    [
        "v1;rm -rf ~",
        "$(id)",
        "`id`",
        "v1' && curl evil",
        "v1\n        run: evil",
        "v1 --upload-pack=touch",
        "--upload-pack=touch",
        "v1|sh",
        "v1..v2",
        "v1&",
        "",
    ],
)
def test_shell_metacharacters_in_the_revision_are_refused(taxon_source, rev):
    with pytest.raises(UsageError, match="not a tag or a commit name"):
        resolve_pin(taxon_source["path"], rev)


@pytest.mark.parametrize(
    "source",
    [
        "https://github.com/o/taxon';curl evil",
        "https://github.com/o/$(id)",
        "https://github.com/o/taxon x",
        "https://github.com/o/taxon\nrun: evil",
        "-oProxyCommand=touch",
        "https://github.com/o/taxon#egg=evil",
        "https://github.com/o/`id`",
    ],
)
def test_shell_metacharacters_in_the_source_are_refused(source):
    with pytest.raises(UsageError, match="read as code"):
        resolve_pin(source, "v0.1.0")
