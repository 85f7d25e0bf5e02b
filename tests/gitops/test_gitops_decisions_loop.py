"""Maintainers decide what trains, end to end, on a real git repository, a real HTTP teacher,
a real browser and the workflows' own steps (runner.py, fake_github.py):

1. a contributor's pull request adds a leaf; a maintainer's label makes the samples job
   generate its samples (the teacher over HTTP), upload them and post the sticky comment;
2. the maintainer drops one sample and fixes another on the review page in Chromium, and
   posts the page's export as a comment: decisions.yml commits them to the branch;
3. the maintainer drops a third with a `/taxon drop` comment: committed the same way;
4. the check job finds every decision of the pull request a maintainer's; the pull request
   is merged;
5. two maintainers keep two more samples with `taxon review decide`, each on a branch of
   their own: both branches merge into main without a conflict;
6. the merge trains (train.yml's own steps): the training set holds the fix, not the drops,
   and the kept ones;
7. an unrelated change to another leaf trains again: every decision still holds, and the
   decided leaf costs the teacher nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_github import FakeGitHub
from runner import Runner, job_runner

from support.browser import NEEDS_CHROMIUM, console_problems, sample_card, start_chromium
from support.git import run_git
from support.github_payloads import collaborator, comment_event, pull_request
from support.pipeline_runs import LEAVES, TAXON, PipelineServer, cli_env, make_upstream
from support.taxonomy_repo import commit_all, git
from taxon.backends.openai import PROBE_MESSAGES
from taxon.core.github import COMMENT_MARKER
from taxon.qna.decisions import load_leaf_decisions
from taxon.qna.samples import is_held_out

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"
PR = 7
CONTRIBUTED = "compositional_skills/linguistics/plural_nouns"
ON_MAIN = tuple(leaf for leaf in LEAVES if leaf != CONTRIBUTED)
UNRELATED = "foundational_skills/reasoning/arithmetic/odd_or_even"
TRAIN_RUN = Path("runs") / "train"  # train.yml's pipeline --run
CONNECTION_CHECK = PROBE_MESSAGES[-1]["content"]
FIXED = "The plural of goose is geese, and the plural of mouse is mice."

pytestmark = NEEDS_CHROMIUM


@dataclass
class Scenario:
    upstream: Path
    github: FakeGitHub
    head: str  # the pull request's head the samples were made for
    dataset: Path  # the samples job's generate output
    chosen: dict[str, str]  # role -> sample id: page_drop, page_fix, comment_drop, cli_keep, cli_keep_2
    decide_jobs: list[list]
    check_job: list
    cli_outputs: list[str]
    merges: list[str]
    first: Path  # workspace of the first training run on main
    second: Path  # of the one after an unrelated change
    second_prompts: list[str]


def _runner(root: Path, upstream: Path, github: FakeGitHub, name: str, event_name: str, event: dict, **kw) -> Runner:
    extra_env = {"GH_TOKEN": "fake-token", "COLUMNS": "200"}
    return job_runner(root, upstream, name, github, event_name, event, taxon=TAXON, extra_env=extra_env, **kw)


def _ok(results: list) -> list:
    failed = [(r.name, r.stdout[-3000:], r.stderr[-3000:]) for r in results if r.returncode]
    assert not failed, failed
    return results


def _pull(github: FakeGitHub, head: str) -> dict:
    return pull_request(PR, head, "contribution", github.repository_id)


def _browse(page: Path, profile: Path, downloads: Path, decide) -> tuple[str, str]:
    """Open the review page in Chromium, let `decide(driver)` click, export as alice: (patch, comment)."""
    from selenium.webdriver.common.by import By

    driver = start_chromium(profile)
    try:
        driver.execute_cdp_cmd("Page.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
        driver.get(page.as_uri())
        decide(driver)
        driver.find_element(By.ID, "reviewer").send_keys("alice")
        driver.find_element(By.ID, "export").click()
        comment = driver.find_element(By.ID, "export-comment").get_attribute("value")
        patch = driver.find_element(By.ID, "export-text").get_attribute("value")
        assert console_problems(driver) == []
        return patch, comment
    finally:
        driver.quit()


def _click(driver, sample: str, button: str, reason: str = "", fixed: str | None = None) -> None:
    from selenium.webdriver.common.by import By

    card = sample_card(driver, sample)
    if reason:
        card.find_element(By.CSS_SELECTOR, ".reason-input").send_keys(reason)
    card.find_element(By.CSS_SELECTOR, f"button.{button}").click()
    if fixed is not None:
        editor = card.find_element(By.CSS_SELECTOR, "textarea.fix-text")
        editor.clear()
        editor.send_keys(fixed)
        card.find_element(By.CSS_SELECTOR, "button.fix-save").click()


def _train(root: Path, upstream: Path, name: str, sha: str, github: FakeGitHub, teacher: PipelineServer):
    """train.yml's pipeline job on `sha` in a fresh workspace, then what its uploads leave in GitHub."""
    asked = len(teacher.prompts)
    runner = _runner(
        root, upstream, github, name, "push", {"repository": {"id": github.repository_id}}, sha=sha, ref_name="main"
    )
    _ok(runner.run_job(WORKFLOWS / "train.yml", "pipeline"))
    run = github.add_run(sha)
    github.upload_artifact(run, f"bundle-{sha}", runner.workspace / "dist" / "taxon-model.tar.gz")
    github.upload_artifact(run, f"generate-cache-{sha}", runner.temp / "generate-cache")
    prompts = [prompt for prompt in teacher.prompts[asked:] if prompt != CONNECTION_CHECK]
    return runner.workspace, prompts


def _decide_job(root: Path, upstream: Path, github: FakeGitHub, name: str, login: str, body: str) -> list:
    github.add_comment(PR, login, body)
    event = comment_event(PR, body, login, github.repository, github.repository_id)
    results = _ok(
        _runner(root, upstream, github, name, "issue_comment", event).run_job(WORKFLOWS / "decisions.yml", "decide")
    )
    head = git(upstream, "rev-parse", "contribution")
    git(upstream, "update-ref", f"refs/pull/{PR}/head", head)
    github.update_routes({f"repos/{github.repository}/pulls/{PR}": _pull(github, head)})
    return results


def _check_job(root: Path, upstream: Path, github: FakeGitHub, name: str, head: str) -> list:
    event = {"action": "synchronize", "pull_request": {"number": PR, "head": {"sha": head}, "base": {"ref": "main"}}}
    return _runner(root, upstream, github, name, "pull_request_target", event).run_job(
        WORKFLOWS / "decisions.yml", "check"
    )


def _cli_branch(root: Path, upstream: Path, login: str, leaf: str, sample: str, dataset: Path) -> tuple[str, str]:
    """A maintainer's clone: a branch of main with `taxon review decide`, pushed; (branch, output)."""
    clone = root / f"clone-{login}"
    git(root, "clone", "-q", str(upstream), str(clone))
    branch = f"{login}-decides"
    git(clone, "checkout", "-q", "-b", branch)
    result = subprocess.run(
        [
            str(TAXON),
            "review",
            "decide",
            leaf,
            sample,
            "--keep",
            "--reason",
            "right, whatever the judge says",
            "--samples",
            str(dataset),
        ],
        cwd=clone,
        env={**cli_env(), "TAXON_REVIEWER": login},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    commit_all(clone, f"decisions: keep {sample}")
    git(clone, "push", "-q", "origin", branch)
    return branch, result.stdout


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, tiny_model_dir) -> Scenario:
    root = tmp_path_factory.mktemp("decisions-loop")
    with PipelineServer() as teacher:
        # enough teacher-written samples to decide on
        upstream = make_upstream(root / "upstream", teacher.base_url, tiny_model_dir, ON_MAIN, questions_per_seed=2)
        commit_all(upstream, "Two leaves (#1)")
        git(upstream, "checkout", "-q", "-b", "contribution")
        shutil.copytree(REPO / "taxonomy" / CONTRIBUTED, upstream / "taxonomy" / CONTRIBUTED)
        head = commit_all(upstream, "Add plural nouns")
        git(upstream, "update-ref", f"refs/pull/{PR}/head", head)
        git(upstream, "checkout", "-q", "main")

        github = FakeGitHub(root / "github")
        repo = github.repository
        github.update_routes(
            {
                **{f"repos/{repo}/collaborators/{login}/permission": collaborator(login) for login in ("alice", "bob")},
                f"repos/{repo}/collaborators/contributor/permission": collaborator("contributor", write=False),
                f"repos/{repo}/pulls/{PR}": _pull(github, head),
                f"repos/{repo}/issues/{PR}/comments": [],
            },
        )

        # 1. the samples job, asked for by alice's label: the teacher over HTTP, the artifact, the sticky comment
        label = {
            "action": "labeled",
            "label": {"name": "generate-samples"},
            "pull_request": {"number": PR, "head": {"sha": head}},
            "sender": {"login": "alice"},
            "repository": {"default_branch": "main"},
        }
        samples = _runner(
            root,
            upstream,
            github,
            "samples",
            "pull_request_target",
            label,
            secrets={"TAXON_TEACHER_URL": teacher.base_url, "TAXON_TEACHER_API_KEY": "unused"},
            variables={"TAXON_TEACHER_MODEL": "scripted"},
        )
        checked = _ok(samples.run_job(WORKFLOWS / "samples.yml", "authorize"))
        samples.needs = {"authorize": {"outputs": checked[-1].outputs}}
        samples.step_outputs["upload"] = {"artifact-url": "https://github.com/octo/taxonomy/actions/runs/1/artifacts/9"}
        _ok(samples.run_job(WORKFLOWS / "samples.yml", "samples"))
        run = github.add_run(head, event="pull_request_target", path=".github/workflows/samples.yml")
        artifact = github.upload_artifact(run, f"samples-pr{PR}-{head}", samples.temp / "samples")
        github.update_routes(
            {
                f"repos/{repo}/actions/artifacts": {"artifacts": [artifact]},
                f"repos/{repo}/actions/runs/{run['id']}": run,
            },
        )
        dataset = samples.temp / "samples" / "dataset"

        rows = [json.loads(line) for line in (dataset / CONTRIBUTED / "samples.jsonl").read_text().splitlines()]
        trained = [
            row["metadata"]["id"]
            for row in rows
            if row["metadata"]["source"] == "generated" and not is_held_out(row, 0.2)
        ]
        assert len(trained) >= 5, len(trained)
        roles = ("page_drop", "page_fix", "comment_drop", "cli_keep", "cli_keep_2")
        chosen = dict(zip(roles, trained, strict=False))

        # 2. the review page in Chromium: a drop and a fix, exported and posted as alice's comment
        patch, comment_text = _browse(
            samples.temp / "samples" / "review.html",
            root / "chromium-profile",
            root,
            lambda driver: (
                _click(driver, chosen["page_drop"], "drop", reason="says mouses"),
                _click(driver, chosen["page_fix"], "fix", fixed=FIXED),
            ),
        )
        assert chosen["page_fix"] in patch and f"/taxon fix {chosen['page_fix']} {FIXED}" in comment_text
        decide_jobs = [_decide_job(root, upstream, github, "decide-page", "alice", comment_text)]
        # 3. a comment command typed by alice
        decide_jobs.append(
            _decide_job(root, upstream, github, "decide-comment", "alice", f"/taxon drop {chosen['comment_drop']}")
        )
        head_decided = git(upstream, "rev-parse", "contribution")
        # 4. the check, then the merge
        check_job = _check_job(root, upstream, github, "check", head_decided)
        git(upstream, "merge", "-q", "--no-ff", "-m", "Merge pull request #7", "contribution")

        # 5. two maintainers on branches of their own, merged one after the other
        merges, cli_outputs = [], []
        for login, role in (("alice", "cli_keep"), ("bob", "cli_keep_2")):
            branch, output = _cli_branch(root, upstream, login, CONTRIBUTED, chosen[role], dataset)
            cli_outputs.append(output)
        for login in ("alice", "bob"):
            merged = run_git(upstream, "merge", "--no-ff", "-m", f"Merge {login}'s decisions", f"{login}-decides")
            merges.append(f"{merged.returncode}: {merged.stdout}{merged.stderr}")
        sha1 = git(upstream, "rev-parse", "main")

        # 6. the merge trains
        first, _ = _train(root, upstream, "train1", sha1, github, teacher)
        # 7. an unrelated change to another leaf trains again
        qna = upstream / "taxonomy" / UNRELATED / "qna.yaml"
        qna.write_text(
            qna.read_text().replace(
                "  - question: Is 73 even?\n    answer: 73 is odd.\n",
                "  - question: Is 75 even?\n    answer: 75 is odd.\n",
                1,
            )
        )
        sha2 = commit_all(upstream, "odd or even: 16")
        assert sha2 != sha1
        second, second_prompts = _train(root, upstream, "train2", sha2, github, teacher)
    return Scenario(
        upstream,
        github,
        head,
        dataset,
        chosen,
        decide_jobs,
        check_job,
        cli_outputs,
        merges,
        first,
        second,
        second_prompts,
    )


def _train_rows(workspace: Path) -> dict[str, dict]:
    path = workspace / TRAIN_RUN / "bundle" / "dataset" / "data" / "train.jsonl"
    return {row["sample_id"]: row for row in map(json.loads, path.read_text().splitlines())}


def test_the_sticky_comment_names_samples_to_decide_on(scenario):
    posted = [
        json.loads(call["input"])["body"]
        for call in scenario.github.calls()
        if call["args"][:3] == ["api", "--method", "POST"] and "issues/7/comments" in call["args"][3]
    ]
    sticky = next(body for body in posted if body.startswith(COMMENT_MARKER))
    assert "teacher-written samples still to decide" in sticky and "`/taxon drop " in sticky


def test_the_page_and_the_comment_were_committed_to_the_branch(scenario):
    chosen = scenario.chosen
    log = git(scenario.upstream, "log", "--format=%an|%s", f"{scenario.head}..contribution").splitlines()
    assert len(log) == 2 and all(line.startswith("github-actions[bot]|decisions: ") for line in log)
    assert log[0].endswith(f"drop {chosen['comment_drop']}")  # the newest: the typed comment
    assert f"drop {chosen['page_drop']}" in log[1] and f"fix {chosen['page_fix']}" in log[1]
    assert [r.returncode for r in scenario.check_job] == [0, 0], [(r.name, r.stdout) for r in scenario.check_job]


def test_two_branches_deciding_on_different_samples_merge_without_conflict(scenario):
    assert all(merge.startswith("0:") for merge in scenario.merges), scenario.merges
    assert "on a contributor's pull request, comment instead" in scenario.cli_outputs[0]
    decisions = load_leaf_decisions(scenario.first / "decisions", CONTRIBUTED)
    chosen = scenario.chosen
    assert {sample: (d.action, d.by) for sample, d in decisions.items()} == {
        chosen["page_drop"]: ("drop", "alice"),
        chosen["page_fix"]: ("fix", "alice"),
        chosen["comment_drop"]: ("drop", "alice"),
        chosen["cli_keep"]: ("keep", "alice"),
        chosen["cli_keep_2"]: ("keep", "bob"),
    }
    assert decisions[chosen["page_drop"]].reason == "says mouses"


def test_the_training_data_holds_the_fix_and_not_the_drops(scenario):
    rows = _train_rows(scenario.first)
    chosen = scenario.chosen
    assert chosen["page_drop"] not in rows and chosen["comment_drop"] not in rows
    fixed = rows[chosen["page_fix"]]
    assert fixed["messages"][-1]["content"] == FIXED and fixed["decision"] == "fix" and fixed["decided_by"] == "alice"
    assert rows[chosen["cli_keep"]]["decision"] == "keep" and rows[chosen["cli_keep_2"]]["decided_by"] == "bob"
    card = (scenario.first / TRAIN_RUN / "bundle/dataset/README.md").read_text()
    assert "Maintainers decided on 5 generated samples: kept 2, dropped 2, fixed 1" in card
    stats = json.loads((scenario.first / TRAIN_RUN / "generate" / CONTRIBUTED / "stats.json").read_text())
    assert stats["decisions"]["orphaned"] == [] and stats["decisions"]["reviewed"] == 5
    report = json.loads((scenario.first / TRAIN_RUN / "evaluate/report.json").read_text())
    assert report["curation"]["decisions"]["reviewed"] == 5
    assert (
        "The automatic filters against the maintainers' decisions"
        in (scenario.first / TRAIN_RUN / "evaluate/report.md").read_text()
    )


def test_a_regeneration_after_an_unrelated_change_keeps_the_decisions(scenario):
    assert _train_rows(scenario.second).keys() >= _train_rows(scenario.first).keys() - {
        sample for sample, row in _train_rows(scenario.first).items() if row["leaf"] == UNRELATED
    }
    rows = _train_rows(scenario.second)
    chosen = scenario.chosen
    assert chosen["page_drop"] not in rows and chosen["comment_drop"] not in rows
    assert rows[chosen["page_fix"]]["messages"][-1]["content"] == FIXED
    assert scenario.second_prompts and not any("plural" in prompt.lower() for prompt in scenario.second_prompts)
