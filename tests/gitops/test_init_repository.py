"""`taxon init`: a new taxonomy repository works out of the box. In a real git repository: its
example leaves validate, a contribution goes through the generated pull-request workflow's
steps (classify, validate, summary), and pre-commit runs taxon's exported hook at the pinned
revision, passing a good leaf and failing a bad one."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from runner import Runner

from support.taxonomy_repo import REPO, add_leaf, commit_all, git
from taxon.cli import main

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
    code_job = yaml.safe_load((upstream / ".github/workflows/pull-request.yml").read_text())["jobs"]["test"]
    assert code_job["steps"][-1]["run"].endswith("&& taxon validate")
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
