"""The repository's workflows against the security rules of SECURITY.md, and each rule shown
to catch a deliberately bad workflow."""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from workflow_policy import CHECKS, TRAINING_RUN, load_workflows, violations

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
CHECKOUT = "actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2"
SETUP_PYTHON = "actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0"


def test_repository_workflows_follow_every_rule():
    assert sorted(load_workflows(WORKFLOWS)) == [
        "decisions.yml",
        "pull-request.yml",
        "release.yml",
        "samples.yml",
        "train.yml",
    ]
    assert violations(WORKFLOWS) == []


def test_on_key_is_read_whatever_yaml_makes_of_it():
    workflows = load_workflows(WORKFLOWS)
    assert True in workflows["train.yml"].data  # PyYAML reads `on:` as the boolean
    assert workflows["train.yml"].triggers == {"push", "workflow_dispatch"}
    assert workflows["samples.yml"].triggers == {"pull_request_target", "issue_comment"}


def test_the_loop_is_wired_as_documented():
    workflows = {name: wf.data for name, wf in load_workflows(WORKFLOWS).items()}
    train = workflows["train.yml"]
    assert train["concurrency"] == {"group": "train-main", "cancel-in-progress": False}
    assert train["jobs"]["pipeline"]["runs-on"] == ["self-hosted", "gpu"]
    assert train[True]["push"]["paths"] == ["taxonomy/**"]
    assert 'taxon" pipeline --profile "$TAXON_PROFILE"' in str(train["jobs"]["pipeline"]["steps"])
    # one profile for what samples and training generate: the same variable, the same default
    assert train["env"]["TAXON_PROFILE"] == workflows["samples.yml"]["env"]["TAXON_PROFILE"]
    assert train["env"]["TAXON_PROFILE"] == "${{ vars.TAXON_PROFILE || 'gpu' }}"
    samples = workflows["samples.yml"]
    assert samples["jobs"]["samples"]["environment"] == "sample-generation"
    assert "synchronize" in samples[True]["pull_request_target"]["types"]
    assert "labels/generate-samples" in samples["jobs"]["clear-label"]["steps"][0]["run"]
    steps = train["jobs"]["pipeline"]["steps"]
    runs = [str(step.get("run", "")) for step in steps]
    # restored only from trusted runs (the rules of taxon.gitops.trusted), before generation
    assert runs.index(next(r for r in runs if "gitops restore-generate" in r)) < runs.index(
        next(r for r in runs if 'taxon" pipeline' in r)
    )
    assert any("pipeline.previous_bundle=$PREVIOUS" in run for run in runs)
    assert any("pipeline.changed_leaves=${CHANGED:-[]}" in run for run in runs)
    # the models are checked before the GPU lock is installed
    assert runs.index(next(r for r in runs if "gitops check-models" in r)) < runs.index(
        next(r for r in runs if "-r requirements/gpu.txt" in r)
    )
    uploads = [step["with"]["name"] for step in steps if "upload-artifact" in str(step.get("uses"))]
    assert uploads == ["bundle-${{ github.sha }}", "generate-cache-${{ github.sha }}", "run-${{ github.sha }}"]
    release = workflows["release.yml"]
    assert release["jobs"]["huggingface"]["environment"] == "huggingface"
    attest = next(step for step in release["jobs"]["release"]["steps"] if "attest" in str(step.get("uses")))
    assert attest["with"]["subject-path"].splitlines() == [
        "${{ steps.build.outputs.archive }}",
        "${{ steps.build.outputs.sums }}",
    ], "the digest taxon verify takes is attested with the archive's"
    assert not any(
        TRAINING_RUN.search(str(step.get("run", ""))) for job in release["jobs"].values() for step in job["steps"]
    ), "release.yml never trains: it promotes the gated build"
    assert "self-hosted" not in str([job["runs-on"] for job in release["jobs"].values()])
    for name, workflow in workflows.items():
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                run = step.get("run", "")
                assert len(run.splitlines()) <= 3, f"{name}: keep run: blocks thin, put logic in taxon gitops"


def _bad(tmp_path: Path, files: dict[str, str]) -> list[str]:
    folder = tmp_path / "workflows"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).write_text(textwrap.dedent(text), encoding="utf-8")
    return violations(folder)


GOOD_JOB = f"""
    runs-on: ubuntu-24.04
    permissions:
      contents: read
    steps:
      - uses: {CHECKOUT}
        with:
          persist-credentials: false
"""

BAD_WORKFLOWS = {
    "self-hosted on pull_request": (
        """
        on: pull_request
        permissions: {}
        jobs:
          gpu:
            runs-on: [self-hosted, gpu]
            permissions: {}
            steps: [{run: make test}]
        """,
        "gpu: a self-hosted runner reachable from pull_request",
    ),
    "self-hosted through an expression on workflow_run": (
        """
        on: {workflow_run: {workflows: [ci], types: [completed]}}
        permissions: {}
        jobs:
          gpu:
            runs-on: ${{ vars.RUNNER }}
            permissions: {}
            steps: [{run: make test}]
        """,
        "a self-hosted runner reachable from workflow_run",
    ),
    "top-level permissions missing": (
        "on: push\njobs:\n  build:" + GOOD_JOB,
        "top-level permissions must be {}",
    ),
    "top-level write-all": (
        "on: push\npermissions: write-all\njobs:\n  build:" + GOOD_JOB,
        "top-level permissions must be {}",
    ),
    "job without permissions": (
        """
        on: push
        permissions: {}
        jobs:
          build:
            runs-on: ubuntu-24.04
            steps: [{run: make}]
        """,
        "build: no job-level permissions",
    ),
    "action on a tag": (
        """
        on: push
        permissions: {}
        jobs:
          build:
            runs-on: ubuntu-24.04
            permissions: {}
            steps:
              - uses: actions/setup-python@v5
        """,
        "actions/setup-python@v5 is not pinned to a 40-hex commit SHA",
    ),
    "pinned without a version comment": (
        """
        on: push
        permissions: {}
        jobs:
          build:
            runs-on: ubuntu-24.04
            permissions: {}
            steps:
              - uses: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065
        """,
        "has no '# vX' comment",
    ),
    "checkout keeping credentials": (
        f"""
        on: push
        permissions: {{}}
        jobs:
          build:
            runs-on: ubuntu-24.04
            permissions: {{contents: read}}
            steps:
              - uses: {CHECKOUT}
        """,
        "actions/checkout without persist-credentials: false",
    ),
    "expression inside run": (
        """
        on: issue_comment
        permissions: {}
        jobs:
          echo:
            runs-on: ubuntu-24.04
            permissions: {}
            steps:
              - run: echo "${{ github.event.comment.body }}"
        """,
        "echo: a run: block holds '${{'",
    ),
    "pull_request_target checking out the head": (
        f"""
        on: pull_request_target
        permissions: {{}}
        jobs:
          build:
            runs-on: ubuntu-24.04
            permissions: {{contents: read}}
            steps:
              - uses: {CHECKOUT}
                with:
                  ref: ${{{{ github.event.pull_request.head.sha }}}}
                  persist-credentials: false
        """,
        "build: checks out the pull request's code",
    ),
    "issue_comment running gh pr checkout": (
        """
        on: issue_comment
        permissions: {}
        jobs:
          build:
            runs-on: ubuntu-24.04
            permissions: {contents: read}
            steps:
              - run: gh pr checkout "$PR"
        """,
        "a run: step switches the work tree",
    ),
    "cache in a trusted job": (
        f"""
        on: push
        permissions: {{}}
        jobs:
          build:
            runs-on: ubuntu-24.04
            permissions: {{contents: read}}
            steps:
              - uses: {SETUP_PYTHON}
                with:
                  cache: pip
        """,
        "actions/setup-python with cache: in a trusted job",
    ),
    "actions/cache in a trusted job": (
        """
        on: workflow_dispatch
        permissions: {}
        jobs:
          build:
            runs-on: ubuntu-24.04
            permissions: {}
            steps:
              - uses: actions/cache@5a3ec84eff668545956fd18022155c47e93e2684 # v4.2.3
        """,
        "uses actions/cache in a trusted job",
    ),
    "a release that retrains": (
        """
        on: {push: {tags: ["v*"]}}
        permissions: {}
        jobs:
          build:
            runs-on: ubuntu-24.04
            permissions: {}
            steps:
              - run: '"$RUNNER_TEMP/venv/bin/taxon" pipeline --profile gpu'
        """,
        "build: a release workflow runs taxon pipeline",
    ),
    "another run's artifact through download-artifact": (
        """
        on: push
        permissions: {}
        jobs:
          build:
            runs-on: ubuntu-24.04
            permissions: {actions: read}
            steps:
              - uses: actions/download-artifact@d3f86a106a0bac45b974a628896c90dbdf5c8093 # v4.3.0
                with: {name: generate-cache, run-id: "1", github-token: x}
        """,
        "build: downloads another run's artifact",
    ),
    "another run's artifact through gh": (
        """
        on: push
        permissions: {}
        jobs:
          build:
            runs-on: ubuntu-24.04
            permissions: {actions: read}
            steps:
              - run: gh run download "$RUN" -n generate-cache
        """,
        "build: a run: step fetches workflow artifacts itself",
    ),
    "a pull request writing a restored artifact name": (
        """
        on: pull_request
        permissions: {}
        jobs:
          build:
            runs-on: ubuntu-24.04
            permissions: {}
            steps:
              - uses: actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2
                with: {name: generate-cache-abc, path: .taxon-cache}
        """,
        "uploads 'generate-cache-abc', a name trusted jobs restore",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_WORKFLOWS))
def test_each_rule_catches_a_bad_workflow(tmp_path, case):
    text, expected = BAD_WORKFLOWS[case]
    found = _bad(tmp_path, {"bad.yml": text})
    assert any(expected in problem for problem in found), found


def test_every_check_is_shown_failing():
    """Each check in CHECKS finds a problem in at least one bad example."""
    import tempfile

    for check in CHECKS:
        hits = []
        for text, _ in BAD_WORKFLOWS.values():
            with tempfile.TemporaryDirectory() as folder:
                (Path(folder) / "bad.yml").write_text(textwrap.dedent(text), encoding="utf-8")
                hits += check(load_workflows(Path(folder)))
        assert hits, f"{check.__name__} caught nothing"


def test_self_hosted_reached_through_a_chain_of_reusable_workflows(tmp_path):
    found = _bad(
        tmp_path,
        {
            "pr.yml": """
                on: pull_request
                permissions: {}
                jobs:
                  call:
                    permissions: {}
                    uses: ./.github/workflows/middle.yml
                """,
            "middle.yml": """
                on: workflow_call
                permissions: {}
                jobs:
                  call:
                    permissions: {}
                    uses: ./.github/workflows/gpu.yml
                """,
            "gpu.yml": """
                on: [workflow_call, workflow_dispatch]
                permissions: {}
                jobs:
                  train:
                    runs-on: [self-hosted, gpu]
                    permissions: {}
                    steps: [{run: make train}]
                """,
        },
    )
    assert found == ["gpu.yml: train: a self-hosted runner reachable from pull_request"]


def test_self_hosted_on_push_only_is_fine(tmp_path):
    found = _bad(
        tmp_path,
        {
            "gpu.yml": """
                on: {push: {branches: [main]}, workflow_dispatch: {}}
                permissions: {}
                jobs:
                  train:
                    runs-on: [self-hosted, gpu]
                    permissions: {contents: read}
                    steps: [{run: make train}]
                """
        },
    )
    assert found == []


def _tool(name: str) -> str:
    path = Path(sys.executable).parent / name
    if not path.exists():
        pytest.skip(f"{name} is not installed in this environment (pip install -e '.[dev]')")
    return str(path)


def test_zizmor_offline_has_no_findings():
    result = subprocess.run(
        [_tool("zizmor"), "--offline", "--no-progress", str(WORKFLOWS)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_workflows_match_the_github_workflow_schema():
    files = sorted(str(path) for path in WORKFLOWS.glob("*.yml"))
    result = subprocess.run(
        [_tool("check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *files],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_when_installed():
    """actionlint comes from no registry without a download at build time (see SECURITY.md);
    an actionlint on PATH (a Go build, a distro package) is used when there is one."""
    actionlint = shutil.which("actionlint")
    if actionlint is None:
        pytest.skip("actionlint is not installed: no PyPI, npm or Debian package provides it without a download")
    result = subprocess.run(
        [actionlint, "-no-color", *sorted(map(str, WORKFLOWS.glob("*.yml")))],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_install_of_this_repository_uses_the_pinned_constraints():
    """The GPU runner's install pins to its lock (requirements/gpu.txt), every other to constraints.txt."""
    installs = {
        workflow.name: [
            line.strip()
            for line in workflow.read_text(encoding="utf-8").splitlines()
            if "pip" in line and " install " in line and (" -e " in line or " -r " in line)
        ]
        for workflow in sorted(WORKFLOWS.glob("*.yml"))
    }
    train = installs.pop("train.yml")
    assert train and all("requirements/gpu.txt" in line for line in train), train
    others = [line for lines in installs.values() for line in lines]
    assert others and all("-c requirements/constraints.txt" in line for line in others), others


def test_a_step_that_pipes_fails_with_its_first_command():
    """A run: with no shell: is `bash -e {0}` on GitHub: a pipeline's status is its last
    command's (tee's), so a failing `taxon generate | ... | tee` would pass. Such steps say
    `shell: bash` (`-eo pipefail`)."""
    import re

    piping = [
        (name, step.get("name"))
        for name, workflow in load_workflows(WORKFLOWS).items()
        for job in workflow.jobs.values()
        for step in job.get("steps", [])
        if re.search(r"(?<!\|)\|(?!\|)", str(step.get("run", ""))) and step.get("shell") != "bash"
    ]
    assert piping == []
