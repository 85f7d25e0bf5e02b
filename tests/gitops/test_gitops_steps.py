"""The workflows' own `run:` steps, run locally the way a runner does (see runner.py), on real
git repositories: a main branch and pull-request branches."""

import json
import sys
from pathlib import Path

import pytest
import yaml
from fake_github import FakeGitHub
from runner import Runner

from support.taxonomy_repo import REPO, add_leaf, commit_all, git, make_repo
from taxon.core.github import COMMENT_MARKER
from taxon.review.comment import log_tail

WORKFLOWS = REPO / ".github" / "workflows"
PR_NUMBER = 7


def _clone(upstream: Path, root: Path) -> Path:
    workspace = root / "workspace"
    git(root, "clone", "-q", str(upstream), str(workspace))
    return workspace


def _pull_request_runner(tmp_path: Path, change) -> Runner:
    """A workspace on a PR branch made by `change(workspace)`, with origin/main fetched."""
    upstream = make_repo(tmp_path)
    workspace = _clone(upstream, tmp_path)
    git(workspace, "checkout", "-q", "-b", "contribution")
    change(workspace)
    head = commit_all(workspace, "contribution")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    event = {
        "action": "opened",
        "number": PR_NUMBER,
        "pull_request": {"number": PR_NUMBER, "head": {"sha": head, "ref": "contribution"}, "base": {"ref": "main"}},
    }
    return Runner(workspace, temp, "pull_request", event, base_ref="main", head_ref="contribution")


def _add_valid_leaf(workspace: Path) -> None:
    add_leaf(workspace, "compositional_skills/grounded/new_dates")


def _add_leaf_and_code(workspace: Path) -> None:
    _add_valid_leaf(workspace)
    (workspace / "Makefile").write_text("all:\n\ttrue\n")


def _add_invalid_leaf(workspace: Path) -> None:
    folder = add_leaf(workspace, "compositional_skills/grounded/broken")
    (folder / "qna.yaml").write_text("version: 3\ntask_description: x\ncreated_by: someone\nseed_examples: []\n")


def _outputs_of(results, name_start: str) -> dict:
    return next(r.outputs for r in results if r.name.startswith(name_start))


def test_contribution_is_classified_and_validated(tmp_path):
    runner = _pull_request_runner(tmp_path, _add_valid_leaf)
    classify = runner.run_job(WORKFLOWS / "pull-request.yml", "classify")
    assert [r.returncode for r in classify] == [0]
    assert classify[0].outputs == {"kind": "contribution", "leaves": "compositional_skills/grounded/new_dates"}
    validate = runner.run_job(WORKFLOWS / "pull-request.yml", "validate")
    assert [r.returncode for r in validate] == [0, 0, 0], [r.stderr for r in validate]
    assert json.loads((runner.temp / "taxon.sarif").read_text())["version"] == "2.1.0"
    assert "passed" in validate[-1].stdout and "::error" not in validate[-1].stdout
    summary = runner.summary_file.read_text()
    assert "This pull request is a taxonomy contribution" in summary
    assert "- `compositional_skills/grounded/new_dates`" in summary
    assert "Validation passed" in summary


def test_invalid_contribution_fails_with_annotations(tmp_path):
    runner = _pull_request_runner(tmp_path, _add_invalid_leaf)
    assert runner.run_job(WORKFLOWS / "pull-request.yml", "classify")[0].returncode == 0
    validate = runner.run_job(WORKFLOWS / "pull-request.yml", "validate")
    assert [r.returncode for r in validate] == [0, 0, 1]
    assert "::error file=taxonomy/compositional_skills/grounded/broken/qna.yaml" in validate[-1].stdout
    assert "Validation failed" in runner.summary_file.read_text()


def test_mixed_pull_request_fails_and_says_to_split(tmp_path):
    runner = _pull_request_runner(tmp_path, _add_leaf_and_code)
    classify = runner.run_job(WORKFLOWS / "pull-request.yml", "classify")
    assert [r.returncode for r in classify] == [1]
    assert classify[0].outputs["kind"] == "mixed"
    assert "::error title=Split this pull request::" in classify[0].stdout
    assert (
        "1 other file(s) (Makefile)" in classify[0].stdout and "Split it into two pull requests" in classify[0].stdout
    )
    summary = runner.summary_file.read_text()
    assert "**mixed**" in summary and "- `Makefile`" in summary


def test_code_change_goes_to_the_test_suite(tmp_path):
    runner = _pull_request_runner(tmp_path, lambda ws: (ws / "README.md").write_text("# better\n"))
    classify = runner.run_job(WORKFLOWS / "pull-request.yml", "classify")
    assert [r.returncode for r in classify] == [0] and classify[0].outputs["kind"] == "code"


# ------------------------------------------------------------------ samples for review


@pytest.fixture
def samples_runner(tmp_path):
    """Upstream has main and refs/pull/7/head (a new leaf, plus a Makefile the trusted job must
    never use); the workspace is a clone on main, as actions/checkout leaves it."""
    upstream = make_repo(tmp_path)
    git(upstream, "checkout", "-q", "-b", "pr")
    add_leaf(upstream, "compositional_skills/grounded/new_dates")
    (upstream / "Makefile").write_text("all:\n\ttouch pwned\n")
    head = commit_all(upstream, "pr")
    git(upstream, "update-ref", f"refs/pull/{PR_NUMBER}/head", head)
    git(upstream, "checkout", "-q", "main")
    workspace = _clone(upstream, tmp_path)

    github = FakeGitHub(tmp_path)
    repository = github.repository
    routes = {
        f"repos/{repository}/collaborators/maintainer/permission": {
            "permission": "write",
            "role_name": "maintain",
            "user": {"login": "maintainer"},
        },
        f"repos/{repository}/pulls/{PR_NUMBER}": {
            "number": PR_NUMBER,
            "state": "open",
            "head": {"sha": head},
            "base": {"ref": "main"},
        },
        f"repos/{repository}/issues/{PR_NUMBER}/comments": [
            {"id": 41, "body": f"{COMMENT_MARKER} forged", "user": {"login": "mallory", "type": "User"}},
            {
                "id": 42,
                "body": f"{COMMENT_MARKER} older samples",
                "user": {"login": "github-actions[bot]", "type": "Bot"},
            },
        ],
    }
    github.routes.update(routes)
    github.save()
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    event = {
        "action": "labeled",
        "label": {"name": "generate-samples"},
        "pull_request": {"number": PR_NUMBER, "head": {"sha": head}},
        "sender": {"login": "maintainer"},
        "repository": {"default_branch": "main"},
    }
    runner = Runner(
        workspace,
        temp,
        "pull_request_target",
        event,
        repository=repository,
        extra_path=[github.bin],
        extra_env=github.env,
        secrets={"TAXON_TEACHER_URL": "http://127.0.0.1:9/v1"},
    )
    runner.head = head
    runner.gh_calls = github.calls
    return runner


def _request_then_samples(runner: Runner, between=None) -> list:
    """The authorize job, then (when it passes) the samples job with its outputs, as GitHub
    runs them; `between(runner)` happens while the samples job waits for its approval."""
    checked = runner.run_job(WORKFLOWS / "samples.yml", "authorize")
    if checked[-1].returncode != 0:
        return checked
    runner.needs = {"authorize": {"outputs": checked[-1].outputs}}
    if between:
        between(runner)
    return runner.run_job(WORKFLOWS / "samples.yml", "samples", skip=("Install", "Generate samples"))


def _set_route(runner: Runner, path: str, answer: dict) -> None:
    routes_file = Path(runner.extra_env["FAKE_GH_STATE"]) / "routes.json"
    routes = json.loads(routes_file.read_text())
    routes[path] = answer
    routes_file.write_text(json.dumps(routes))


def _fill_generate_output(runner: Runner, fell_short: bool = False) -> None:
    """What `taxon generate` would write (its own tests cover it): a hand-made output folder."""
    from review.review_fixtures import write_gen_out

    dataset = write_gen_out(runner.temp / "samples" / "dataset")
    if fell_short:
        stats_file = dataset / "knowledge/science/birds/stats.json"
        stats = json.loads(stats_file.read_text())
        stats_file.write_text(json.dumps({**stats, "error": "kept 5 of 8 samples (minimum 10)"}))
    runner.step_outcomes["generate"] = "failure" if fell_short else "success"


def test_label_runs_the_trusted_job_on_data_only(samples_runner):
    runner = samples_runner
    runner.step_outputs["upload"] = {"artifact-url": "https://github.com/octo/taxonomy/actions/runs/1/artifacts/9"}
    _fill_generate_output(runner)
    results = _request_then_samples(runner)
    assert [r.returncode for r in results] == [0] * len(results), [(r.name, r.stdout, r.stderr) for r in results]
    names = [r.name.split(" ")[0] for r in results]
    assert names == ["Check", "Fetch", "Take", "Validate", "Check", "Render", "Create"]
    request = _outputs_of(results, "Check")
    assert request == {"pr": str(PR_NUMBER), "head_sha": runner.head, "base_ref": "main"}

    exported = sorted(
        p.relative_to(runner.temp / "pr").as_posix() for p in (runner.temp / "pr").rglob("*") if p.is_file()
    )
    assert exported == [
        "taxonomy/compositional_skills/grounded/new_dates/attribution.txt",
        "taxonomy/compositional_skills/grounded/new_dates/qna.yaml",
    ]
    assert not (runner.workspace / "taxonomy/compositional_skills/grounded/new_dates").exists()
    assert (runner.workspace / "Makefile").exists() is False and not (runner.workspace / "pwned").exists()
    assert git(runner.workspace, "rev-parse", "--abbrev-ref", "HEAD") == "main"

    assert (runner.temp / "samples" / "review.html").read_text().startswith("<!DOCTYPE html>")
    posted = [call for call in runner.gh_calls() if "--method" in call["args"]]
    assert len(posted) == 1 and posted[0]["args"][:4] == [
        "api",
        "--method",
        "PATCH",
        "repos/octo/taxonomy/issues/comments/42",
    ]
    body = json.loads(posted[0]["input"])["body"]
    assert body.startswith(COMMENT_MARKER) and "/actions/runs/1/artifacts/9" in body and runner.head in body
    assert "Generated samples for review" in runner.summary_file.read_text()


def test_samples_refused_for_a_commenter_without_write_access(samples_runner):
    runner = samples_runner
    runner.event_name = "issue_comment"
    runner.event = {
        "action": "created",
        "issue": {"number": PR_NUMBER, "pull_request": {}},
        "comment": {"body": "/taxon samples"},
        "sender": {"login": "maintainer"},
    }
    routes_file = Path(runner.extra_env["FAKE_GH_STATE"]) / "routes.json"
    routes = json.loads(routes_file.read_text())
    routes["repos/octo/taxonomy/collaborators/maintainer/permission"] = {"permission": "read", "role_name": "triage"}
    routes_file.write_text(json.dumps(routes))
    results = _request_then_samples(runner)
    assert [r.returncode for r in results] == [1]
    assert "::error title=Samples not generated::'maintainer' has no write access" in results[0].stdout
    assert not [call for call in runner.gh_calls() if "--method" in call["args"]]


def test_samples_refused_when_the_pull_request_moved_after_the_label(samples_runner):
    runner = samples_runner
    runner.event["pull_request"]["head"]["sha"] = "f" * 40
    results = _request_then_samples(runner)
    assert [r.returncode for r in results] == [1] and "moved on" in results[0].stdout


def test_a_bare_command_is_for_the_head_at_comment_time(samples_runner):
    """The authorize job pins the head it finds; a push while the samples job waits for its
    approval is refused, and the pushed commit is never exported."""
    runner = samples_runner
    runner.event_name = "issue_comment"
    runner.event = {
        "action": "created",
        "issue": {"number": PR_NUMBER, "pull_request": {}},
        "comment": {"body": "/taxon samples"},
        "sender": {"login": "maintainer"},
        "repository": {"default_branch": "main"},
    }

    def push(runner):
        pull = {"number": PR_NUMBER, "state": "open", "head": {"sha": "e" * 40}, "base": {"ref": "main"}}
        _set_route(runner, f"repos/octo/taxonomy/pulls/{PR_NUMBER}", pull)

    results = _request_then_samples(runner, between=push)
    assert runner.needs["authorize"]["outputs"]["head_sha"] == runner.head
    assert [r.returncode for r in results] == [1] and "moved on" in results[0].stdout
    assert not (runner.temp / "pr").exists()


def test_only_an_authorized_request_reaches_the_samples_job_and_its_concurrency():
    jobs = yaml.safe_load((WORKFLOWS / "samples.yml").read_text())["jobs"]
    assert jobs["samples"]["needs"] == "authorize"
    assert jobs["samples"]["concurrency"]["group"] == "samples-${{ needs.authorize.outputs.pr }}"
    assert "concurrency" not in jobs["authorize"] and "environment" not in jobs["authorize"]
    assert "--pinned-head" in jobs["samples"]["steps"][3]["run"]


def test_a_leaf_that_fell_short_is_still_reviewed_then_the_job_fails(samples_runner):
    runner = samples_runner
    runner.step_outputs["upload"] = {"artifact-url": "https://github.com/octo/taxonomy/actions/runs/1/artifacts/9"}
    _fill_generate_output(runner, fell_short=True)
    results = _request_then_samples(runner)
    assert [r.returncode for r in results] == [0, 0, 0, 0, 0, 0, 0, 1]
    assert "::error title=Generation failed or fell short::" in results[-1].stdout
    posted = [call for call in runner.gh_calls() if "--method" in call["args"]]
    body = json.loads(posted[0]["input"])["body"]
    assert "**Leaves that fell short**" in body and "`kept 5 of 8 samples (minimum 10)`" in body


def test_samples_are_made_with_the_profile_train_uses():
    """One profile: samples.yml generates with TAXON_PROFILE, the profile train.yml trains with,
    whose minimum per leaf makes a leaf that falls short fail the job."""
    from taxon.core.config import load_config

    workflows = {name: yaml.safe_load((WORKFLOWS / name).read_text()) for name in ("samples.yml", "train.yml")}
    assert workflows["samples.yml"]["env"]["TAXON_PROFILE"] == workflows["train.yml"]["env"]["TAXON_PROFILE"]
    generate = next(s for s in workflows["samples.yml"]["jobs"]["samples"]["steps"] if s.get("id") == "generate")
    assert '--profile "$TAXON_PROFILE"' in generate["run"] and "secrets.TAXON_TEACHER_URL" in str(generate["env"])
    assert load_config("gpu").generate.min_kept_per_leaf >= 1


def test_a_teacher_that_fails_gets_a_comment_with_its_error_and_the_log_link(samples_runner):
    """The real generate step against a teacher that is gone: no dataset, yet an artifact (the
    log), a comment with the end of the log (the secret endpoint hidden) and the run's link, and
    a failed job."""
    runner = samples_runner
    with open(runner.workspace / "taxon.toml", "a") as config:  # fail at once instead of retrying
        config.write("\n[profiles.gpu.teacher]\nretries = 0\ntimeout_s = 5\n")
    git(runner.workspace, "commit", "-qam", "no retries")
    secret_url = "http://127.0.0.1:9/secret-teacher-path/v1"
    runner.secrets = {"TAXON_TEACHER_URL": secret_url, "TAXON_TEACHER_API_KEY": "sk-secret-key-123"}
    checked = runner.run_job(WORKFLOWS / "samples.yml", "authorize")
    runner.needs = {"authorize": {"outputs": checked[-1].outputs}}
    results = runner.run_job(WORKFLOWS / "samples.yml", "samples")
    by_name = {r.name.split(" ")[0] + str(i): r.returncode for i, r in enumerate(results)}
    assert results[-1].name.startswith("Fail when generation failed") and results[-1].returncode == 1, by_name
    generate = next(r for r in results if r.name.startswith("Generate"))
    assert generate.returncode != 0
    log = (runner.temp / "samples" / "generate.log").read_text()
    assert "error" in log and "secret-teacher-path" not in log and "sk-secret-key-123" not in log
    posted = [call for call in runner.gh_calls() if "--method" in call["args"]]
    body = json.loads(posted[-1]["input"])["body"]
    assert log_tail(log).splitlines()[-1] in body  # the error as taxon printed it
    assert body.startswith(COMMENT_MARKER) and "generation failed" in body
    assert "https://github.com/octo/taxonomy/actions/runs/1" in body and "secret-teacher-path" not in body
    assert not (runner.temp / "samples" / "dataset").exists()


def test_a_dry_run_posts_no_comment_and_says_so(samples_runner):
    runner = samples_runner
    runner.variables = {"TAXON_DRY_RUN": "true"}
    runner.step_outputs["upload"] = {"artifact-url": "https://github.com/octo/taxonomy/actions/runs/1/artifacts/9"}
    _fill_generate_output(runner)
    results = _request_then_samples(runner)
    assert [r.returncode for r in results] == [0] * len(results)
    assert not [call for call in runner.gh_calls() if "--method" in call["args"]]
    summary = runner.summary_file.read_text()
    assert "dry run (TAXON_DRY_RUN=true): not posted on #7" in summary and "Generated samples for review" in summary


# ------------------------------------------------------------------ train and release, dry runs


def _train_steps(names: tuple[str, ...]) -> list[dict]:
    steps = yaml.safe_load((WORKFLOWS / "train.yml").read_text())["jobs"]["pipeline"]["steps"]
    return [step for step in steps if str(step.get("name", "")).startswith(names)]


def test_a_dry_run_of_train_goes_without_githubs_api_and_says_so(tmp_path):
    """No gh, no GITHUB_REPOSITORY_ID (act sets none): the cache and the latest release are gone
    without with a notice, the changed leaves come from the push's previous head, and the gate
    issue goes to the job summary only."""
    upstream = make_repo(tmp_path)
    workspace = _clone(upstream, tmp_path)
    before = git(workspace, "rev-parse", "HEAD")
    add_leaf(workspace, "compositional_skills/grounded/new_dates")
    head = commit_all(workspace, "a leaf (#3)")
    temp = tmp_path / "runner-temp"
    temp.mkdir()
    event = {"before": before, "after": head, "repository": {"id": 4242}}
    runner = Runner(
        workspace,
        temp,
        "push",
        event,
        sha=head,
        ref_name="main",
        variables={"TAXON_DRY_RUN": "true"},
        extra_env={"GITHUB_REPOSITORY_ID": "", "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin"},
    )
    runner.run_job(WORKFLOWS / "train.yml", "pipeline", skip=("",))  # no step: the workflow's env only
    assert runner.workflow_env == {"TAXON_PROFILE": "gpu", "TAXON_DRY_RUN": "true"}
    (venv_bin := temp / "venv" / "bin").mkdir(parents=True)
    (venv_bin / "taxon").symlink_to(Path(sys.executable).parent / "taxon")
    results = [runner.run_step(step) for step in _train_steps(("Restore", "The leaves changed", "Fetch"))]
    assert [r.returncode for r in results] == [0, 0, 0], [r.stdout + r.stderr for r in results]
    restore, changed, fetch = results
    assert restore.outputs == {"restored": "0", "from_sha": ""}
    assert "::notice title=Dry run::dry run (TAXON_DRY_RUN=true): the generation cache skipped" in restore.stdout
    assert json.loads(changed.outputs["leaves"]) == ["compositional_skills/grounded/new_dates"]
    assert changed.outputs["since"] == before
    assert fetch.outputs == {"bundle": "", "tag": ""} and "compared with the base model only" in fetch.stdout

    report = temp / "report.json"
    report.write_text(
        json.dumps(
            {"gate": {"passed": False, "reasons": ["changed leaf x did not improve"]}, "sets": {}, "baselines": ["b"]}
        )
    )
    (issue_step,) = _train_steps(("Open or update",))
    issue_step = {**issue_step, "run": issue_step["run"].replace("runs/train/evaluate/report.json", str(report))}
    issue = runner.run_step(issue_step)
    assert issue.returncode == 0 and "the gate issue was not opened" in issue.stdout
    summary = runner.summary_file.read_text()
    assert "this issue was not opened" in summary and "The evaluation gate failed on main" in summary
    report.write_text(json.dumps({"gate": {"passed": True, "reasons": []}, "sets": {}, "baselines": ["b"]}))
    passed = runner.run_step(issue_step)  # a passing gate closes the open issue: not in a dry run (act found it)
    assert passed.returncode == 0 and "an open gate issue was not looked for or closed" in passed.stdout


def test_a_dry_run_of_release_attests_releases_and_uploads_nothing():
    workflow = yaml.safe_load((WORKFLOWS / "release.yml").read_text())
    assert workflow[True]["workflow_dispatch"]["inputs"]["dry_run"]["type"] == "boolean"
    assert workflow["env"]["TAXON_DRY_RUN"] == "${{ inputs.dry_run || vars.TAXON_DRY_RUN == 'true' }}"
    steps = {step.get("name") or step["uses"].split("@")[0]: step for step in workflow["jobs"]["release"]["steps"]}
    assert steps["Attest build provenance (the archive and its SHA256SUMS)"]["if"] == "env.TAXON_DRY_RUN != 'true'"
    assert steps["Attach to the GitHub Release"]["if"] == "env.TAXON_DRY_RUN != 'true'"
    assert "Dry run" in steps["Dry run, said"]["run"]
    assert "vars.TAXON_DRY_RUN != 'true'" in workflow["jobs"]["huggingface"]["if"]
    assert (
        "find-build" in steps["Find the bundle the train run built and gated for this commit"]["run"]
    )  # never skipped
