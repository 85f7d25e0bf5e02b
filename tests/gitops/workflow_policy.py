"""The security rules of SECURITY.md, checked on parsed workflow files.

Each check returns a list of violations, "file: job: what is wrong". The checks are strict
on purpose: a job's `if:` is not trusted to keep an event away from a self-hosted runner;
only the workflow's triggers (and its callers', through reusable workflows) count.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

# Events whose payload or code an outsider controls: no self-hosted runner may serve them.
UNTRUSTED_EVENTS = frozenset(
    {
        "pull_request",
        "pull_request_target",
        "issue_comment",
        "workflow_run",
        "pull_request_review",
        "pull_request_review_comment",
        "issues",
        "discussion_comment",
    }
)
# Events that run the pull request's own code with no secrets: the only ones where a cache
# can't poison a trusted run, because no trusted run is there.
UNTRUSTED_CODE_EVENTS = frozenset({"pull_request", "merge_group"})
# Triggers that run main's workflow with secrets or a write token on behalf of a pull request.
PR_TRUSTED_EVENTS = frozenset({"pull_request_target", "issue_comment", "workflow_run"})
CACHE_ACTIONS = ("actions/cache@", "actions/cache/restore@", "actions/cache/save@")
SETUP_ACTION = re.compile(r"^actions/setup-[a-z]+@")
PINNED = re.compile(r"^[^@\s]+@[0-9a-f]{40}$")
PR_HEAD_REF = re.compile(r"pull_request\.head|github\.head_ref|refs/pull/|merge_commit_sha|head[._](sha|ref|branch)")
PR_CHECKOUT_RUN = re.compile(r"gh\s+pr\s+checkout|git\s+(checkout|switch|worktree\s+add|reset\s+--hard)\b")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*([^\s#]+)(.*)$")


@dataclass
class Workflow:
    path: Path
    data: dict
    text: str

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def triggers(self) -> set[str]:
        """Event names from `on:`, which PyYAML reads as the key True."""
        on = self.data.get("on", self.data.get(True))
        if isinstance(on, str):
            return {on}
        if isinstance(on, list):
            return {str(event) for event in on}
        if isinstance(on, dict):
            return {str(event) for event in on}
        return set()

    @property
    def jobs(self) -> dict[str, dict]:
        jobs = self.data.get("jobs") or {}
        return {name: job for name, job in jobs.items() if isinstance(job, dict)}


def load_workflows(folder: Path) -> dict[str, Workflow]:
    workflows = {}
    for path in sorted([*Path(folder).glob("*.yml"), *Path(folder).glob("*.yaml")]):
        text = path.read_text(encoding="utf-8")
        workflows[path.name] = Workflow(path, yaml.safe_load(text) or {}, text)
    return workflows


def _steps(job: dict) -> list[dict]:
    return [step for step in job.get("steps") or [] if isinstance(step, dict)]


def _local_callee(uses: str) -> str | None:
    match = re.fullmatch(r"\./\.github/workflows/([^/@]+\.ya?ml)", uses or "")
    return match.group(1) if match else None


def effective_triggers(workflows: dict[str, Workflow]) -> dict[str, set[str]]:
    """Every event that can start each workflow: its own triggers, plus, for a reusable
    workflow, every event that can start any workflow calling it (transitively)."""
    events = {name: wf.triggers - {"workflow_call"} for name, wf in workflows.items()}
    changed = True
    while changed:
        changed = False
        for name, wf in workflows.items():
            for job in wf.jobs.values():
                callee = _local_callee(job.get("uses", ""))
                if callee in events and not events[name] <= events[callee]:
                    events[callee] |= events[name]
                    changed = True
    return events


def _runner_labels(job: dict) -> set[str] | None:
    """The labels a job asks for; None when they can't be known (an expression, a group)."""
    runs_on = job.get("runs-on")
    if isinstance(runs_on, str):
        return None if "${{" in runs_on else {runs_on}
    if isinstance(runs_on, list):
        return None if any("${{" in str(label) for label in runs_on) else {str(label) for label in runs_on}
    if isinstance(runs_on, dict):
        return None  # a runner group: self-hosted runners or larger runners, treat as self-hosted
    return set()  # a reusable-workflow call: its own jobs are checked with the caller's events


def check_self_hosted(workflows: dict[str, Workflow]) -> list[str]:
    events = effective_triggers(workflows)
    problems = []
    for name, wf in workflows.items():
        reachable = sorted(events[name] & UNTRUSTED_EVENTS)
        if not reachable:
            continue
        for job_name, job in wf.jobs.items():
            labels = _runner_labels(job)
            if labels is None or "self-hosted" in labels:
                problems.append(f"{name}: {job_name}: a self-hosted runner reachable from {', '.join(reachable)}")
    return problems


def check_top_permissions(workflows: dict[str, Workflow]) -> list[str]:
    return [
        f"{name}: top-level permissions must be {{}}, not {wf.data.get('permissions')!r}"
        for name, wf in workflows.items()
        if wf.data.get("permissions") != {}
    ]


def check_job_permissions(workflows: dict[str, Workflow]) -> list[str]:
    return [
        f"{name}: {job_name}: no job-level permissions (declare the minimum it needs)"
        for name, wf in workflows.items()
        for job_name, job in wf.jobs.items()
        if "permissions" not in job
    ]


def _all_uses(wf: Workflow) -> list[tuple[str, str]]:
    found = []
    for job_name, job in wf.jobs.items():
        if job.get("uses"):
            found.append((job_name, str(job["uses"])))
        found += [(job_name, str(step["uses"])) for step in _steps(job) if step.get("uses")]
    return found


def check_pinned(workflows: dict[str, Workflow]) -> list[str]:
    """Every action and remote reusable workflow at a full commit SHA, with a `# vX` comment
    saying which release that is."""
    problems = []
    for name, wf in workflows.items():
        for job_name, uses in _all_uses(wf):
            if uses.startswith("./"):
                continue
            if uses.startswith("docker://"):
                if "@sha256:" not in uses:
                    problems.append(f"{name}: {job_name}: {uses} is not pinned to a digest")
            elif not PINNED.match(uses):
                problems.append(f"{name}: {job_name}: {uses} is not pinned to a 40-hex commit SHA")
        for line in wf.text.splitlines():
            match = USES_LINE.match(line)
            if match and PINNED.match(match.group(1)) and not re.search(r"#\s*v\d", match.group(2)):
                problems.append(f"{name}: {match.group(1)} has no '# vX' comment naming its release")
    return problems


def check_checkout_credentials(workflows: dict[str, Workflow]) -> list[str]:
    return [
        f"{name}: {job_name}: actions/checkout without persist-credentials: false"
        for name, wf in workflows.items()
        for job_name, job in wf.jobs.items()
        for step in _steps(job)
        if str(step.get("uses", "")).startswith("actions/checkout@")
        and str((step.get("with") or {}).get("persist-credentials")).lower() != "false"
    ]


def check_run_expressions(workflows: dict[str, Workflow]) -> list[str]:
    return [
        f"{name}: {job_name}: a run: block holds '${{{{' (pass the value through env:)"
        for name, wf in workflows.items()
        for job_name, job in wf.jobs.items()
        for step in _steps(job)
        if "${{" in str(step.get("run", ""))
    ]


def check_pr_head_checkout(workflows: dict[str, Workflow]) -> list[str]:
    """No job started by pull_request_target, issue_comment or workflow_run checks out or
    switches to the pull request's code."""
    events = effective_triggers(workflows)
    problems = []
    for name, wf in workflows.items():
        if not events[name] & PR_TRUSTED_EVENTS:
            continue
        for job_name, job in wf.jobs.items():
            for step in _steps(job):
                with_ = step.get("with") or {}
                if str(step.get("uses", "")).startswith("actions/checkout@") and (
                    PR_HEAD_REF.search(str(with_.get("ref", "")))
                    or PR_HEAD_REF.search(str(with_.get("repository", "")))
                ):
                    problems.append(f"{name}: {job_name}: checks out the pull request's code")
                if PR_CHECKOUT_RUN.search(str(step.get("run", ""))):
                    problems.append(f"{name}: {job_name}: a run: step switches the work tree to other code")
    return problems


def check_trusted_caches(workflows: dict[str, Workflow]) -> list[str]:
    """No cache in a job that runs with secrets or a write token: a cache written by a pull
    request's code could poison it."""
    events = effective_triggers(workflows)
    problems = []
    for name, wf in workflows.items():
        if not events[name] - UNTRUSTED_CODE_EVENTS:
            continue
        for job_name, job in wf.jobs.items():
            for step in _steps(job):
                uses = str(step.get("uses", ""))
                if uses.startswith(CACHE_ACTIONS):
                    problems.append(f"{name}: {job_name}: uses {uses.split('@')[0]} in a trusted job")
                elif SETUP_ACTION.match(uses) and (step.get("with") or {}).get("cache"):
                    problems.append(f"{name}: {job_name}: {uses.split('@')[0]} with cache: in a trusted job")
    return problems


TRAINING_RUN = re.compile(r"\btaxon\"?'?\s+(pipeline|train|generate)\b")
CROSS_RUN_ARTIFACT_RUN = re.compile(r"gh\s+run\s+download|actions/artifacts|/artifacts\b")
# What trusted jobs take from earlier runs (tools/taxon/gitops/trusted.py): written only by trusted runs.
RESTORED_ARTIFACTS = re.compile(r"^(bundle|generate-cache)-")


def _is_release_workflow(wf: Workflow) -> bool:
    on = wf.data.get("on", wf.data.get(True))
    return isinstance(on, dict) and isinstance(on.get("push"), dict) and bool(on["push"].get("tags"))


def check_release_never_trains(workflows: dict[str, Workflow]) -> list[str]:
    """Build once, promote: a tag releases the bundle its commit's train run built and gated."""
    return [
        f"{name}: {job_name}: a release workflow runs taxon {match.group(1)} (promote the gated build instead)"
        for name, wf in workflows.items()
        if _is_release_workflow(wf)
        for job_name, job in wf.jobs.items()
        for step in _steps(job)
        if (match := TRAINING_RUN.search(str(step.get("run", ""))))
    ]


def check_cross_run_artifacts(workflows: dict[str, Workflow]) -> list[str]:
    """Artifacts of other runs only through `taxon gitops` (restore-generate, find-build), which
    takes them from trusted runs alone and checks their digest."""
    problems = []
    for name, wf in workflows.items():
        for job_name, job in wf.jobs.items():
            for step in _steps(job):
                with_ = step.get("with") or {}
                if str(step.get("uses", "")).startswith("actions/download-artifact@") and (
                    "run-id" in with_ or "github-token" in with_
                ):
                    problems.append(f"{name}: {job_name}: downloads another run's artifact with download-artifact")
                if CROSS_RUN_ARTIFACT_RUN.search(str(step.get("run", ""))):
                    problems.append(f"{name}: {job_name}: a run: step fetches workflow artifacts itself")
    return problems


def check_restored_artifact_writers(workflows: dict[str, Workflow]) -> list[str]:
    """No workflow an outsider can start uploads an artifact under a name trusted jobs restore."""
    events = effective_triggers(workflows)
    return [
        f"{name}: {job_name}: uploads {step['with']['name']!r}, a name trusted jobs restore, "
        f"from a workflow reachable from {', '.join(sorted(events[name] & UNTRUSTED_EVENTS))}"
        for name, wf in workflows.items()
        if events[name] & UNTRUSTED_EVENTS
        for job_name, job in wf.jobs.items()
        for step in _steps(job)
        if str(step.get("uses", "")).startswith("actions/upload-artifact@")
        and RESTORED_ARTIFACTS.match(str((step.get("with") or {}).get("name", "")))
    ]


CHECKS = (
    check_self_hosted,
    check_top_permissions,
    check_job_permissions,
    check_pinned,
    check_checkout_credentials,
    check_run_expressions,
    check_pr_head_checkout,
    check_trusted_caches,
    check_release_never_trains,
    check_cross_run_artifacts,
    check_restored_artifact_writers,
)


def violations(folder: Path) -> list[str]:
    workflows = load_workflows(folder)
    return [problem for check in CHECKS for problem in check(workflows)]
