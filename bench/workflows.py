"""The GitHub workflows run for real under nektos/act, offline (../shared/act-offline):

    python bench/workflows.py [CASE ...]      (make workflows; every case by default)

Cases: pr-valid (a valid leaf: classify, validate with annotations, summary and SARIF), pr-invalid
(a broken leaf: validate fails with `::error file=...` annotations), pr-code (a README change: the
lint job, then the test job: PyTorch's CPU build, the cached .venv, `make test`), samples (the
label on the valid pull request: authorize, export, validate, generate with a local `taxon serve`
teacher, review page, artifact, sticky comment through the gh stand-in), samples-down (the same
with the teacher gone: the comment carries the error and the log's link, the job fails), train
(push to main: the workflow as written but for its install step, which installs the CPU set
instead of the GPU lock, on the cpu profile, as a dry run without GitHub's API and with no
GITHUB_REPOSITORY_ID), release (a tag on the trained commit, dry run: find-build through the gh
stand-in from train's bundle artifact, digest check, verify; attestation, GitHub Release and
Hugging Face skipped, as a dry run says), decisions-check (decisions.yml's check on the valid pull
request: no decision changed, the taxon/decisions status posted through the gh stand-in), decide (a
maintainer's `/taxon drop ID` and `/taxon fix ID ANSWER` comment, dry run: the ids looked up in a
samples artifact served by the gh stand-in, digest checked, the decision commit built and shown in
the summary, not pushed: the offline remote is reached only through the runner's git config).

Each case runs in a scratch clone of this checkout's HEAD (commit first) under bench/out/workflows/,
against a local stand-in for github.com (github-remote.sh). Skipped, with a message and exit 0,
where act-offline or the action mirrors are missing: set ACT_OFFLINE_SHARED (the act-offline
folder, default ../shared/act-offline beside the checkout or its parents) and ACT_OFFLINE_MIRRORS
(the folder of OWNER+NAME bare mirrors; without it an earlier setup is reused). Writes
bench/out/workflows/results.json and prints the table for bench/RESULTS.md. Heavy (the test job
runs the whole suite, train the whole pipeline): run it under the shared lock.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # the stand-ins' payloads, as the tests'
from support.github_payloads import collaborator, comment_event, pull_request, workflow_run

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "workflows"
SLUG = "octo/taxon"
REPOSITORY_ID = 4242
HOME = Path(os.environ.get("ACT_OFFLINE_HOME", Path.home() / ".cache" / "act-offline"))
ACT = HOME / "act-offline"
CASES = (
    "pr-valid",
    "pr-invalid",
    "pr-code",
    "samples",
    "samples-down",
    "decisions-check",
    "decide",
    "train",
    "release",
)
PRS = {1: "pr-valid", 2: "pr-invalid", 3: "pr-code"}
VALID_LEAF = "compositional_skills/formatting/bullet_list"
SERVE_PORT = 8765
JOB_VENV = Path.home() / ".cache" / "taxon-venv"  # where pull-request.yml's code jobs keep their venv
ACT_CACHE_SERVER = Path.home() / ".cache" / "actcache"  # act's stand-in for GitHub's cache service
TRAIN_TIMEOUT_S = 3600


@dataclass
class Case:
    name: str
    expected: dict[str, str]  # job -> "succeeded" | "failed"
    jobs: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    checks: dict[str, bool] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.jobs == self.expected and all(self.checks.values())


def log(message: str) -> None:
    print(message, flush=True)


def run(*args, cwd: Path | None = None, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, check=check, text=True, capture_output=True, **kwargs)


def git(repo: Path, *args: str) -> str:
    return run("git", "-C", repo, *args).stdout.strip()


def find_shared() -> Path | None:
    given = os.environ.get("ACT_OFFLINE_SHARED")
    candidates = [Path(given)] if given else [parent / "shared" / "act-offline" for parent in REPO.parents]
    return next((path for path in candidates if (path / "setup.sh").is_file()), None)


def prepare() -> tuple[Path, str] | str:
    """(the act-offline folder, why not) : set up act with the mirrors, or the reason to skip."""
    shared = find_shared()
    if shared is None:
        return "no act-offline folder (../shared/act-offline; set ACT_OFFLINE_SHARED)"
    mirrors = os.environ.get("ACT_OFFLINE_MIRRORS")
    if mirrors:
        setup = run(shared / "setup.sh", REPO, mirrors, check=False)
        if setup.returncode != 0:
            return f"act-offline's setup failed (missing action mirrors?):\n{setup.stderr.strip()}"
    elif not ACT.exists():
        return "act-offline is not set up and ACT_OFFLINE_MIRRORS (the action mirrors) is not set"
    else:
        pins = run("grep", "-rhoE", r"uses: *[^ ]+@[0-9a-f]{40}", REPO / ".github" / "workflows", check=False).stdout
        flags = (HOME / "flags").read_text()
        missing = {p.split("uses:")[1].strip() for p in pins.split("\n") if p} - {
            line.split("=", 1)[1].rsplit("=", 1)[0]
            for line in flags.splitlines()
            if line.startswith("--local-repository")
        }
        if missing:
            return (
                f"act-offline was set up for other action pins ({', '.join(sorted(missing))}): set ACT_OFFLINE_MIRRORS"
            )
    return shared


# ---------------------------------------------------------------- the scratch repository


BROKEN_QNA = "version: 3\ntask_description: x\ncreated_by: someone\nseed_examples: []\n"


def make_scratch(shared: Path) -> Path:
    """A clone of HEAD with the three pull-request branches, pushed to the github.com stand-in."""
    scratch = OUT / "repo"
    shutil.rmtree(scratch, ignore_errors=True)
    OUT.mkdir(parents=True, exist_ok=True)
    run("git", "clone", "-q", "--no-hardlinks", REPO, scratch)
    git(scratch, "checkout", "-q", "-B", "main", git(REPO, "rev-parse", "HEAD"))
    git(scratch, "remote", "add", "github", f"https://github.com/{SLUG}")
    identity = ["-c", "user.name=act", "-c", "user.email=act@example.invalid"]

    def branch(name: str, change) -> None:
        git(scratch, "checkout", "-q", "-B", name, "main")
        change()
        git(scratch, "add", "-A")
        run("git", "-C", scratch, *identity, "commit", "-q", "-m", name)
        git(scratch, "checkout", "-q", "main")

    example = REPO / "tools/taxon/scaffold/templates/taxonomy/compositional_skills/example/formatting/bullet_list"
    branch("pr-valid", lambda: shutil.copytree(example, scratch / "taxonomy" / VALID_LEAF))

    def broken():
        folder = scratch / "taxonomy/compositional_skills/formatting/broken"
        folder.mkdir(parents=True)
        (folder / "qna.yaml").write_text(BROKEN_QNA)

    branch("pr-invalid", broken)
    branch("pr-code", lambda: (scratch / "README.md").write_text((scratch / "README.md").read_text() + "\nA line.\n"))
    push_remote(shared, scratch)
    return scratch


def push_remote(shared: Path, scratch: Path) -> None:
    pulls = [f"{number}={branch}" for number, branch in PRS.items()]
    run(shared / "github-remote.sh", scratch, SLUG, *pulls, env={**os.environ, "ACT_OFFLINE_HOME": str(HOME)})


def checkout(scratch: Path, ref: str) -> str:
    git(scratch, "fetch", "-q", str(HOME / "github" / SLUG), ref)
    git(scratch, "checkout", "-q", "--detach", "FETCH_HEAD")
    return git(scratch, "rev-parse", "HEAD")


def remote_sha(ref: str) -> str:
    return git(HOME / "github" / SLUG, "rev-parse", ref)


# ---------------------------------------------------------------- running act


def act(
    case: Case, scratch: Path, event_name: str, workflow: str, event: dict, *flags: str, timeout: int = 1800, env=None
):
    """One act invocation; its log in OUT/<case>.log, its jobs' results into the case."""
    event_file = OUT / f"{case.name}.event.json"
    event_file.write_text(json.dumps(event))
    artifacts = OUT / "artifacts" / case.name
    shutil.rmtree(artifacts, ignore_errors=True)
    before = set((HOME / "cache").iterdir())
    command = [str(ACT), event_name, "-W", workflow, "-e", str(event_file), *flags]
    started = time.monotonic()
    with open(OUT / f"{case.name}.log", "a") as log_file:
        shown = [("***" if index and command[index - 1] == "-s" else part) for index, part in enumerate(command)]
        log_file.write(f"$ {' '.join(shown)}\n")
        log_file.flush()
        try:
            subprocess.run(
                command,
                cwd=scratch,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                env={**os.environ, "ACT_OFFLINE_ARTIFACTS": str(artifacts), **(env or {})},
                check=False,
            )
        except subprocess.TimeoutExpired:
            case.notes.append(f"act timed out after {timeout} s")
    case.seconds += time.monotonic() - started
    # a job's folder stays after a failure (the test job's .venv is ~6 GB): removed either way
    for folder in set((HOME / "cache").iterdir()) - before:
        if folder.name != "tool_cache" and folder.is_dir():
            shutil.rmtree(folder, ignore_errors=True)
    text = (OUT / f"{case.name}.log").read_text(errors="replace")
    for line in text.splitlines():
        for outcome in ("succeeded", "failed"):
            if f"Job {outcome}" in line and line.startswith("["):
                job = line[1 : line.index("]")].split("/", 1)[-1].strip()
                case.jobs[job] = outcome
    return text, artifacts


def pr_event(number: int, branch: str) -> dict:
    head = remote_sha(f"refs/pull/{number}/head")
    return {
        "action": "opened",
        "number": number,
        "pull_request": {
            "number": number,
            "head": {"ref": branch, "sha": head, "repo": {"full_name": SLUG}},
            "base": {"ref": "main", "sha": remote_sha("main"), "repo": {"full_name": SLUG}},
        },
        "repository": {"full_name": SLUG, "id": REPOSITORY_ID, "default_branch": "main"},
    }


def run_pr(scratch: Path, number: int) -> Case:
    branch = PRS[number]
    expected = {
        "pr-valid": {"contribution or code": "succeeded", "validate the changed leaves": "succeeded"},
        "pr-invalid": {"contribution or code": "succeeded", "validate the changed leaves": "failed"},
        "pr-code": {"contribution or code": "succeeded", "make lint": "succeeded", "make test": "succeeded"},
    }[branch]
    case = Case(branch, expected)
    checkout(scratch, f"refs/pull/{number}/merge")
    flags = ("--env", f"GITHUB_REPOSITORY_ID={REPOSITORY_ID}")
    workflow = ".github/workflows/pull-request.yml"
    if branch == "pr-code":  # one job at a time on 2 cores: lint, then the suite (its venv from lint's cache)
        # both jobs keep their venv at ~/.cache/taxon-venv, as on a hosted runner: gone before each
        # job, as on a fresh runner, so the test job's comes from the cache the lint job saved
        shutil.rmtree(ACT_CACHE_SERVER, ignore_errors=True)
        shutil.rmtree(JOB_VENV, ignore_errors=True)
        text, _ = act(case, scratch, "pull_request", workflow, pr_event(number, branch), "-j", "lint", *flags)
        shutil.rmtree(JOB_VENV, ignore_errors=True)
        text += act(
            case, scratch, "pull_request", workflow, pr_event(number, branch), "-j", "test", *flags, timeout=3600
        )[0]
        case.checks["torch is the CPU build"] = "+cpu" in _line_with(text, "| torch 2.")
        case.checks["the test job's .venv restored from the cache"] = "Cache restored from key: venv-" in text
        passed = [line for line in text.splitlines() if " passed" in line and ("skipped" in line or " in " in line)]
        case.notes += [line.split("|", 1)[-1].strip() for line in passed[-1:]]
        shutil.rmtree(JOB_VENV, ignore_errors=True)  # ~6 GB
        shutil.rmtree(ACT_CACHE_SERVER, ignore_errors=True)
    else:
        text, _ = act(case, scratch, "pull_request", workflow, pr_event(number, branch), *flags)
        errors = [line for line in text.splitlines() if "::error file=" in line]
        summary = "Validation passed" if branch == "pr-valid" else "Validation failed"
        case.checks[f"summary says {summary}"] = summary in text
        case.checks["SARIF checked"] = "SARIF" in text
        if branch == "pr-invalid":
            case.checks["::error annotations with file, line and col"] = bool(errors) and all(
                ",line=" in e and ",col=" in e for e in errors
            )
            case.notes.append(f"{len(errors)} ::error annotations")
    return case


def _line_with(text: str, needle: str) -> str:
    return next((line for line in text.splitlines() if needle in line), "")


# ---------------------------------------------------------------- samples, train, release


def samples_routes(sender: str, number: int) -> dict:
    return {
        f"repos/{SLUG}/collaborators/{sender}/permission": {"role_name": "write", "user": {"login": sender}},
        f"repos/{SLUG}/pulls/{number}": {
            "number": number,
            "state": "open",
            "head": {"sha": remote_sha(f"refs/pull/{number}/head")},
            "base": {"ref": "main"},
        },
        f"repos/{SLUG}/issues/{number}/comments": [],
    }


def run_samples(scratch: Path, teacher_up: bool) -> Case:
    name = "samples" if teacher_up else "samples-down"
    outcome = "succeeded" if teacher_up else "failed"
    case = Case(name, {"check the request": "succeeded", "generate samples for review": outcome})
    checkout(scratch, "main")
    number, sender = 1, "maintainer"
    routes = OUT / f"{name}.routes.json"
    routes.write_text(json.dumps(samples_routes(sender, number)))
    event = {
        "action": "labeled",
        "number": number,
        "label": {"name": "generate-samples"},
        "pull_request": {"number": number, "head": {"sha": remote_sha(f"refs/pull/{number}/head")}, "labels": []},
        "sender": {"login": sender},
        "repository": {"full_name": SLUG, "id": REPOSITORY_ID, "default_branch": "main"},
    }
    api_key = "act-offline-teacher-key-" + os.urandom(6).hex()
    port = SERVE_PORT if teacher_up else SERVE_PORT + 1  # nothing listens there
    with open(OUT / f"{name}.serve.log", "w") as serve_log:
        server = (
            subprocess.Popen(
                [str(REPO / ".venv" / "bin" / "taxon"), "serve", "packaged:smollm2", "--port", str(port), "--quiet"],
                cwd=REPO,
                env={**os.environ, "TAXON_SERVE_API_KEY": api_key},
                stdout=serve_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            if teacher_up
            else None
        )
        try:
            if server:
                _wait_models(port, api_key)
            text, artifacts = act(
                case,
                scratch,
                "pull_request_target",
                ".github/workflows/samples.yml",
                event,
                "-s",
                f"TAXON_TEACHER_URL=http://127.0.0.1:{port}/v1",
                "-s",
                f"TAXON_TEACHER_API_KEY={api_key}",
                "--var",
                "TAXON_PROFILE=cpu",
                "--env",
                f"GITHUB_REPOSITORY_ID={REPOSITORY_ID}",
                env={"ACT_OFFLINE_GH_ROUTES": str(routes)},
            )
        finally:
            if server:
                os.killpg(server.pid, signal.SIGTERM)
                server.wait(timeout=60)
    calls = (artifacts / "gh-calls.log").read_text() if (artifacts / "gh-calls.log").exists() else ""
    case.checks["comment posted through the API stand-in"] = f"repos/{SLUG}/issues/{number}/comments" in calls and (
        '"POST"' in calls
    )
    uploaded = list(artifacts.glob("samples-pr1-*"))
    case.checks["artifact uploaded"] = bool(uploaded)
    if teacher_up:
        case.checks["dataset and review page in the artifact"] = bool(uploaded) and all(
            (uploaded[0] / part).exists() for part in ("dataset", "review.html", "generate.log")
        )
        case.checks["comment: Generated samples for review"] = "Generated samples for review" in text
        kept = _line_with(text, "teacher requests")
        case.notes.append(kept.split("|", 1)[-1].strip())
    else:
        case.checks["comment: generation failed, with the run's link"] = (
            "generation failed" in text and "/actions/runs/" in text
        )
        case.checks["the teacher's key never printed"] = api_key not in text
        case.checks["the job fails: Generation failed"] = "Generation failed or fell short" in text
    return case


def _wait_models(port: int, api_key: str, timeout_s: float = 600) -> None:
    deadline = time.monotonic() + timeout_s
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/v1/models", headers={"Authorization": f"Bearer {api_key}"}
    )
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(request, timeout=5).read()
            return
        except OSError:
            time.sleep(2)
    raise TimeoutError(f"taxon serve did not start on port {port} in {timeout_s} s")


# The train job as written, but for its install: the CPU set of `make install` in place of the GPU
# lock (this machine has no GPU). Everything else, the profile check included, runs as on the runner.
CPU_INSTALL = (
    'python3 -m venv "$RUNNER_TEMP/venv" && "$RUNNER_TEMP/venv/bin/pip" install -q --no-cache-dir '
    '-c requirements/constraints.txt torch==2.13.0 && "$RUNNER_TEMP/venv/bin/pip" install -q --no-cache-dir '
    "-c requirements/constraints.txt -e '.[train]' && \"$RUNNER_TEMP/venv/bin/pip\" install -q --no-deps "
    "--require-hashes -r requirements/smollm2.txt"
)


def cpu_train_copy(scratch: Path) -> str:
    text = (scratch / ".github/workflows/train.yml").read_text()
    core = (
        'python3.12 -m venv "$RUNNER_TEMP/venv" && "$RUNNER_TEMP/venv/bin/pip" install -q --no-cache-dir '
        "-c requirements/gpu.txt -e ."
    )
    lock = "run: '\"$RUNNER_TEMP/venv/bin/pip\" install --no-cache-dir -r requirements/gpu.txt'"
    assert core in text and lock in text, "train.yml's install steps changed: update bench/workflows.py"
    text = text.replace(core, CPU_INSTALL).replace(lock, "run: echo CPU copy, the CPU set is installed above")
    copy = ".github/workflows/train-cpu-copy.yml"
    (scratch / copy).write_text(text)
    return copy


def run_train(scratch: Path) -> Case:
    case = Case("train", {"validate, generate, train, evaluate, publish": "succeeded"})
    sha = checkout(scratch, "main")
    copy = cpu_train_copy(scratch)
    before = git(scratch, "rev-parse", "HEAD^")
    event = {
        "ref": "refs/heads/main",
        "before": before,
        "after": sha,
        "repository": {"full_name": SLUG, "id": REPOSITORY_ID, "default_branch": "main"},
    }
    # no GITHUB_REPOSITORY_ID (act sets none): taxon gitops reads the event's repository.id
    text, artifacts = act(
        case,
        scratch,
        "push",
        copy,
        event,
        "--var",
        "TAXON_PROFILE=cpu",
        "--var",
        "TAXON_DRY_RUN=true",
        timeout=TRAIN_TIMEOUT_S,
    )
    (scratch / copy).unlink()
    case.checks["bundle artifact"] = (artifacts / f"bundle-{sha}" / "taxon-model.tar.gz").is_file()
    case.checks["generate-cache artifact"] = (artifacts / f"generate-cache-{sha}").is_dir()
    case.checks["dry run said so"] = "dry run (TAXON_DRY_RUN=true)" in text
    case.checks["changed leaves from taxon diff"] = "leaves changed since" in text
    case.checks["gate summary"] = "taxon: train on main" in text
    case.notes.append(_line_with(text, "leaves changed since").split("|", 1)[-1].strip())
    case.notes.append(_line_with(text, "Gate: **").split("|", 1)[-1].strip())
    return case


def run_release(scratch: Path, shared: Path) -> Case:
    case = Case("release", {"promote the gated bundle, attest it, attach it to the GitHub Release": "succeeded"})
    git(scratch, "checkout", "-q", "main")
    sha = git(scratch, "rev-parse", "HEAD")
    bundle = OUT / "artifacts" / "train" / f"bundle-{sha}" / "taxon-model.tar.gz"
    if not bundle.is_file():
        case.notes.append("no bundle from the train case: run it first")
        case.checks["train's bundle"] = False
        return case
    tag = "v0.0.1-act"
    git(scratch, "tag", "-f", tag, sha)
    push_remote(shared, scratch)
    checkout(scratch, f"refs/tags/{tag}")
    packed = OUT / "bundle.zip"
    with zipfile.ZipFile(packed, "w") as archive:
        archive.write(bundle, "taxon-model.tar.gz")
    import hashlib

    digest = "sha256:" + hashlib.sha256(packed.read_bytes()).hexdigest()
    run_id, artifact_id = 777, 888
    routes = {
        f"repos/{SLUG}/actions/workflows/train.yml/runs": {
            "workflow_runs": [workflow_run(run_id, sha, SLUG, REPOSITORY_ID)]
        },
        f"repos/{SLUG}/actions/runs/{run_id}/artifacts": {
            "artifacts": [
                {
                    "id": artifact_id,
                    "name": f"bundle-{sha}",
                    "expired": False,
                    "digest": digest,
                    "workflow_run": {"id": run_id, "head_sha": sha},
                }
            ]
        },
        f"repos/{SLUG}/actions/artifacts/{artifact_id}/zip": f"@{packed}",
    }
    routes_file = OUT / "release.routes.json"
    routes_file.write_text(json.dumps(routes))
    event = {"ref": f"refs/tags/{tag}", "after": sha, "repository": {"full_name": SLUG, "id": REPOSITORY_ID}}
    text, artifacts = act(
        case,
        scratch,
        "push",
        ".github/workflows/release.yml",
        event,
        "--var",
        "TAXON_DRY_RUN=true",
        env={"ACT_OFFLINE_GH_ROUTES": str(routes_file)},
    )
    case.checks["found the train run's bundle"] = digest.split(":")[1][:12] in text or "taxon-model-" in text
    case.checks["verified"] = "verified" in text.lower()
    case.checks["dry run said so"] = "Dry run" in text
    case.checks["release-bundle artifact"] = (artifacts / "release-bundle").exists()
    calls = (artifacts / "gh-calls.log").read_text() if (artifacts / "gh-calls.log").exists() else ""
    case.checks["no GitHub Release created"] = '"release", "create"' not in calls
    case.checks["Hugging Face job skipped"] = "publish to Hugging Face" not in case.jobs
    return case


# ---------------------------------------------------------------- decisions.yml


def _decision_routes(number: int, sender: str) -> dict:
    head = remote_sha(f"refs/pull/{number}/head")
    return {
        f"repos/{SLUG}/collaborators/{sender}/permission": collaborator(sender),
        f"repos/{SLUG}/pulls/{number}": pull_request(number, head, PRS[number], REPOSITORY_ID),
        f"repos/{SLUG}/collaborators/contributor/permission": collaborator("contributor", write=False),
        f"repos/{SLUG}/issues/{number}/comments": [],
        f"repos/{SLUG}/statuses/{head}": {},
    }


def run_decisions_check(scratch: Path) -> Case:
    case = Case("decisions-check", {"every changed decision is a maintainer's": "succeeded"})
    checkout(scratch, "main")
    number = 1
    routes = OUT / f"{case.name}.routes.json"
    routes.write_text(json.dumps(_decision_routes(number, "maintainer")))
    event = {**pr_event(number, PRS[number]), "action": "synchronize"}
    text, artifacts = act(
        case,
        scratch,
        "pull_request_target",
        ".github/workflows/decisions.yml",
        event,
        "--env",
        f"GITHUB_REPOSITORY_ID={REPOSITORY_ID}",
        env={"ACT_OFFLINE_GH_ROUTES": str(routes)},
    )
    calls = (artifacts / "gh-calls.log").read_text() if (artifacts / "gh-calls.log").exists() else ""
    case.checks["status taxon/decisions posted"] = "/statuses/" in calls
    case.checks["summary: 0 refused"] = "Decisions: 0 changed by maintainers, 0 refused." in text
    return case


def _samples_artifact(number: int) -> tuple[Path, str, list[str]]:
    """A samples job's artifact for the valid pull request's head, by hand: (zip, digest, ids)."""
    import hashlib

    sys.path.insert(0, str(REPO / "tools"))
    from taxon.qna.decisions import sample_id

    rows = [
        (f"Turn this into a bullet list: apples, pears and plums {n}.", f"- apples\n- pears\n- plums {n}")
        for n in range(2)
    ]
    archive = OUT / "decide-samples.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        lines = [
            json.dumps(
                {
                    "messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
                    "metadata": {"leaf": VALID_LEAF, "kind": "compositional_skills", "source": "generated"},
                }
            )
            for q, a in rows
        ]
        zipped.writestr(f"dataset/{VALID_LEAF}/samples.jsonl", "\n".join(lines) + "\n")
        zipped.writestr("review.html", "<!DOCTYPE html>")
    digest = "sha256:" + hashlib.sha256(archive.read_bytes()).hexdigest()
    return archive, digest, [sample_id(VALID_LEAF, q, a) for q, a in rows]


def run_decide(scratch: Path) -> Case:
    case = Case("decide", {"commit a maintainer's decisions": "succeeded"})
    checkout(scratch, "main")
    number, sender, run_id, artifact_id = 1, "maintainer", 5151, 6161
    archive, digest, ids = _samples_artifact(number)
    head = remote_sha(f"refs/pull/{number}/head")
    routes = _decision_routes(number, sender)
    routes.update(
        {
            f"repos/{SLUG}/actions/artifacts": {
                "artifacts": [
                    {
                        "id": artifact_id,
                        "name": f"samples-pr{number}-{head}",
                        "expired": False,
                        "digest": digest,
                        "workflow_run": {"id": run_id},
                    }
                ]
            },
            f"repos/{SLUG}/actions/runs/{run_id}": workflow_run(
                run_id, head, SLUG, REPOSITORY_ID, path=".github/workflows/samples.yml", event="issue_comment"
            ),
            f"repos/{SLUG}/actions/artifacts/{artifact_id}/zip": f"@{archive}",
        }
    )
    routes_file = OUT / f"{case.name}.routes.json"
    routes_file.write_text(json.dumps(routes))
    body = f"Looked at them.\n\n/taxon drop {ids[0]} a repeat\n/taxon fix {ids[1]} - apples\n"
    event = comment_event(number, body, sender, SLUG, REPOSITORY_ID)
    text, _ = act(
        case,
        scratch,
        "issue_comment",
        ".github/workflows/decisions.yml",
        event,
        "--env",
        f"GITHUB_REPOSITORY_ID={REPOSITORY_ID}",
        "--env",
        "TAXON_DRY_RUN=true",
        env={"ACT_OFFLINE_GH_ROUTES": str(routes_file)},
    )
    case.checks["2 decisions, not pushed (dry run)"] = "was not pushed to pr-valid" in text
    case.checks["the reply in the summary"] = "**2 decisions by `maintainer` committed**" in text
    return case


# ---------------------------------------------------------------- report


def table(cases: list[Case]) -> str:
    lines = ["| case | jobs | checks | time | notes |", "|---|---|---|---:|---|"]
    for case in cases:
        jobs = ", ".join(f"{job}: {outcome}" for job, outcome in case.jobs.items()) or "none ran"
        checks = ", ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in case.checks.items())
        verdict = "**pass**" if case.passed else "**FAIL**"
        lines.append(f"| {case.name} {verdict} | {jobs} | {checks} | {case.seconds:.0f} s | {'; '.join(case.notes)} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    wanted = [name for name in argv if not name.startswith("-")] or list(CASES)
    unknown = set(wanted) - set(CASES)
    if unknown:
        print(f"unknown cases: {', '.join(sorted(unknown))} (known: {', '.join(CASES)})", file=sys.stderr)
        return 2
    shared = prepare()
    if isinstance(shared, str):
        print(f"make workflows: skipped: {shared}")
        return 0
    if git(REPO, "status", "--porcelain", "--untracked-files=no"):
        log("note: uncommitted changes are not run: the workflows run on a clone of HEAD")
    OUT.mkdir(parents=True, exist_ok=True)
    for name in wanted:  # the other cases' logs stay, beside their results
        (OUT / f"{name}.log").unlink(missing_ok=True)
    scratch = make_scratch(shared)
    cases: list[Case] = []
    for name in wanted:
        log(f"== {name}")
        if name in ("pr-valid", "pr-invalid", "pr-code"):
            case = run_pr(scratch, {branch: n for n, branch in PRS.items()}[name])
        elif name in ("samples", "samples-down"):
            case = run_samples(scratch, teacher_up=name == "samples")
        elif name == "decisions-check":
            case = run_decisions_check(scratch)
        elif name == "decide":
            case = run_decide(scratch)
        elif name == "train":
            case = run_train(scratch)
        else:
            case = run_release(scratch, shared)
        cases.append(case)
        log(f"   {'pass' if case.passed else 'FAIL'} in {case.seconds:.0f} s: {case.jobs} {case.checks} {case.notes}")
    results = OUT / "results.json"
    previous = json.loads(results.read_text()) if results.exists() else {}
    previous.update(
        {case.name: {**asdict(case), "passed": case.passed, "commit": git(REPO, "rev-parse", "HEAD")} for case in cases}
    )
    results.write_text(json.dumps(previous, indent=2))
    print(table(cases))
    return 0 if all(case.passed for case in cases) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
