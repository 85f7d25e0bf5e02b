"""Run a workflow job's `run:` steps the way a GitHub runner does: bash -eo pipefail, the
GITHUB_* variables set, the workflow's, the job's and the step's `env:` with `${{ }}` resolved
from the event, the variables, the inputs and earlier steps' outputs and outcomes, GITHUB_OUTPUT
read back after each step, `if:` evaluated. `uses:` steps are left to the caller. Expressions:
lookups, 'literals', ==, !=, !, ||, && and always() (no parentheses)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from support.git import git

if TYPE_CHECKING:
    from fake_github import FakeGitHub

EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT's `name=value` and `name<<DELIMITER ... DELIMITER` forms."""
    outputs, lines = {}, text.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        if "<<" in line:
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, index + 1)
            outputs[name] = "\n".join(lines[index + 1 : end])
            index = end + 1
            continue
        if "=" in line:
            name, value = line.split("=", 1)
            outputs[name] = value
        index += 1
    return outputs


@dataclass
class StepResult:
    name: str
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str] = field(default_factory=dict)


@dataclass
class Runner:
    workspace: Path
    temp: Path
    event_name: str
    event: dict
    repository: str = "octo/taxonomy"
    repository_id: int = 4242
    sha: str = ""
    ref_name: str = ""
    ref_type: str = "branch"
    run_id: int = 1
    base_ref: str = ""
    head_ref: str = ""
    secrets: dict = field(default_factory=dict)
    variables: dict = field(default_factory=dict)
    extra_path: list[Path] = field(default_factory=list)
    extra_env: dict = field(default_factory=dict)
    step_outputs: dict[str, dict[str, str]] = field(default_factory=dict)
    step_outcomes: dict[str, str] = field(default_factory=dict)
    needs: dict[str, dict] = field(default_factory=dict)  # job id -> {"outputs": {...}} of jobs this one needs
    inputs: dict = field(default_factory=dict)  # workflow_dispatch inputs
    workflow_env: dict = field(default_factory=dict)  # the workflow's and the job's env:, set by run_job

    @property
    def summary_file(self) -> Path:
        return self.temp / "step_summary.md"

    def _lookup(self, dotted: str):
        head, *rest = dotted.split(".")
        if head == "github":
            root = {
                "event": self.event,
                "token": "fake-token",
                "repository": self.repository,
                "repository_id": self.repository_id,
                "sha": self.sha,
                "ref_name": self.ref_name,
                "ref_type": self.ref_type,
                "run_id": self.run_id,
                "server_url": "https://github.com",
                "event_name": self.event_name,
                "base_ref": self.base_ref,
                "head_ref": self.head_ref,
            }
        elif head == "steps":
            root = {
                step: {"outputs": self.step_outputs.get(step, {}), "outcome": self.step_outcomes.get(step)}
                for step in {*self.step_outputs, *self.step_outcomes}
            }
        elif head == "needs":
            root = self.needs
        elif head == "secrets":
            root = self.secrets
        elif head == "vars":
            root = self.variables
        elif head == "runner":
            root = {"temp": str(self.temp)}
        elif head == "inputs":
            root = self.inputs
        elif head == "env":
            root = self.workflow_env
        else:
            raise ValueError(f"unsupported context in test runner: {dotted}")
        value = root
        for key in rest:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def _term(self, text: str):
        text = text.strip()
        if text.startswith("!") and not text.startswith("!="):
            return not self._term(text[1:])
        if text in ("always()", "success()", "true"):
            return True
        if text == "false":
            return False
        if len(text) >= 2 and text[0] == text[-1] == "'":
            return text[1:-1]
        return self._lookup(text)

    def value(self, expression: str):
        """An expression's value: `||` of `&&` of comparisons of terms, as GitHub reads them."""
        for alternative in expression.split("||"):
            value = None
            for conjunct in alternative.split("&&"):
                match = re.fullmatch(r"(.+?)\s*(==|!=)\s*(.+)", conjunct.strip())
                if match:
                    left, right = self._term(match.group(1)), self._term(match.group(3))
                    value = (_text(left) == _text(right)) == (match.group(2) == "==")
                else:
                    value = self._term(conjunct)
                if value in (None, "", False, 0):
                    break
            if value not in (None, "", False, 0):
                return value
        return value

    def evaluate(self, text: str) -> str:
        return EXPRESSION.sub(lambda match: _text(self.value(match.group(1))), str(text))

    def environment(self, step_env: dict) -> dict[str, str]:
        event_path = self.temp / "event.json"
        event_path.write_text(json.dumps(self.event), encoding="utf-8")
        path = os.pathsep.join([*map(str, self.extra_path), str(Path(sys.executable).parent), os.environ["PATH"]])
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")},
            "PATH": path,
            "GITHUB_ACTIONS": "true",
            "CI": "true",
            "GITHUB_EVENT_NAME": self.event_name,
            "GITHUB_EVENT_PATH": str(event_path),
            "GITHUB_REPOSITORY": self.repository,
            "GITHUB_REPOSITORY_ID": str(self.repository_id),
            "GITHUB_SHA": self.sha,
            "GITHUB_REF_NAME": self.ref_name,
            "GITHUB_REF_TYPE": self.ref_type,
            "GITHUB_RUN_ID": str(self.run_id),
            "GITHUB_BASE_REF": self.base_ref,
            "GITHUB_HEAD_REF": self.head_ref,
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_STEP_SUMMARY": str(self.summary_file),
            "RUNNER_TEMP": str(self.temp),
            **self.extra_env,
        }
        env.update(self.workflow_env)
        env.update({key: self.evaluate(value) for key, value in (step_env or {}).items()})
        return env

    def condition(self, expression: str | None) -> bool:
        """A step's `if:` (without always(), GitHub adds success(): here, no step failed yet)."""
        if expression is None:
            return True
        inner = EXPRESSION.fullmatch(expression.strip())
        return self.value(inner.group(1) if inner else expression) not in (None, "", False, 0)

    def run_step(self, step: dict) -> StepResult:
        output_file = self.temp / f"output-{len(self.step_outputs)}-{os.urandom(4).hex()}"
        output_file.write_text("")
        env = self.environment(step.get("env") or {})
        env["GITHUB_OUTPUT"] = str(output_file)
        # GitHub's shells: `bash -e {0}` when a step names none, `bash --noprofile --norc -eo
        # pipefail {0}` for `shell: bash` (only then does a pipeline fail with its first command)
        shell = ["bash", "--noprofile", "--norc", "-eo", "pipefail"] if step.get("shell") == "bash" else ["bash", "-e"]
        result = subprocess.run(
            [*shell, "-c", step["run"]],
            cwd=self.workspace,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        outputs = parse_outputs(output_file.read_text(encoding="utf-8"))
        if step.get("id"):
            self.step_outputs[step["id"]] = outputs
            self.step_outcomes[step["id"]] = "success" if result.returncode == 0 else "failure"
        return StepResult(step.get("name", step["run"][:40]), result.returncode, result.stdout, result.stderr, outputs)

    def run_job(self, workflow: Path, job_id: str, skip: tuple[str, ...] = ("Install",)) -> list[StepResult]:
        """Each `run:` step of the job in order; after a failure (not continue-on-error) only
        the steps whose `if:` holds always(), as a runner does; steps whose name starts with one
        of `skip` are left out."""
        data = yaml.safe_load(workflow.read_text(encoding="utf-8"))
        job = data["jobs"][job_id]
        self.workflow_env = {}
        for level in (data.get("env") or {}, job.get("env") or {}):
            self.workflow_env.update({key: self.evaluate(value) for key, value in level.items()})
        results: list[StepResult] = []
        failed = False
        for step in job["steps"]:
            if "run" not in step or str(step.get("name", "")).startswith(skip):
                continue
            if failed and "always()" not in str(step.get("if", "")):
                continue
            if not self.condition(step.get("if")):
                continue
            results.append(self.run_step(step))
            failed = failed or (results[-1].returncode != 0 and not step.get("continue-on-error"))
        return results


def job_runner(
    root: Path,
    upstream: Path,
    name: str,
    github: FakeGitHub,
    event_name: str,
    event: dict,
    taxon: Path | None = None,
    extra_env: dict | None = None,
    **fields,
) -> Runner:
    """A job in a fresh folder root/name against the GitHub stand-in: its workspace a clone of
    `upstream` at the `sha` field (its default branch without one), as actions/checkout leaves
    it, and its runner temp, whose venv/bin/taxon is `taxon` where given (what the workflows'
    install step makes). `fields` are the Runner's other fields (sha, ref_name, secrets, ...)."""
    workspace = root / name / "workspace"
    workspace.parent.mkdir()
    git(root, "clone", "-q", str(upstream), str(workspace))
    if fields.get("sha"):
        git(workspace, "checkout", "-q", fields["sha"])
    temp = root / name / "temp"
    temp.mkdir()
    if taxon is not None:
        (temp / "venv" / "bin").mkdir(parents=True)
        (temp / "venv" / "bin" / "taxon").symlink_to(taxon)
    return Runner(
        workspace,
        temp,
        event_name,
        event,
        repository=github.repository,
        repository_id=github.repository_id,
        extra_path=[github.bin],
        extra_env={**github.env, **(extra_env or {})},
        **fields,
    )


def _text(value) -> str:
    """An expression's value as GitHub writes it into a string."""
    if value is True or value is False:
        return str(value).lower()
    return "" if value is None else str(value)
