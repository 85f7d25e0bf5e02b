"""Run a workflow job's `run:` steps the way a GitHub runner does: bash -eo pipefail, the
GITHUB_* variables set, `${{ }}` in `env:` resolved from the event and earlier step outputs,
GITHUB_OUTPUT read back after each step. `uses:` steps are left to the caller."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

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
                "run_id": self.run_id,
                "server_url": "https://github.com",
                "event_name": self.event_name,
                "base_ref": self.base_ref,
                "head_ref": self.head_ref,
            }
        elif head == "steps":
            root = {step: {"outputs": outputs} for step, outputs in self.step_outputs.items()}
        elif head == "needs":
            root = self.needs
        elif head == "secrets":
            root = self.secrets
        elif head == "vars":
            root = self.variables
        elif head == "runner":
            root = {"temp": str(self.temp)}
        else:
            raise ValueError(f"unsupported context in test runner: {dotted}")
        value = root
        for key in rest:
            value = value.get(key) if isinstance(value, dict) else None
        return value

    def evaluate(self, text: str) -> str:
        def replace(match: re.Match) -> str:
            for alternative in match.group(1).split("||"):
                value = self._lookup(alternative.strip())
                if value not in (None, "", False):
                    return str(value)
            return ""

        return EXPRESSION.sub(replace, str(text))

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
            "GITHUB_RUN_ID": str(self.run_id),
            "GITHUB_BASE_REF": self.base_ref,
            "GITHUB_HEAD_REF": self.head_ref,
            "GITHUB_WORKSPACE": str(self.workspace),
            "GITHUB_STEP_SUMMARY": str(self.summary_file),
            "RUNNER_TEMP": str(self.temp),
            **self.extra_env,
        }
        env.update({key: self.evaluate(value) for key, value in (step_env or {}).items()})
        return env

    def condition(self, expression: str | None) -> bool:
        """A step's `if:`; only the `steps.ID.outcome == 'VALUE'` form is understood here."""
        if expression is None:
            return True
        match = re.fullmatch(r"steps\.([\w-]+)\.outcome == '(\w+)'", expression.strip())
        if not match:
            raise NotImplementedError(f"the test runner does not evaluate: if: {expression}")
        return self.step_outcomes.get(match.group(1), "skipped") == match.group(2)

    def run_step(self, step: dict) -> StepResult:
        output_file = self.temp / f"output-{len(self.step_outputs)}-{os.urandom(4).hex()}"
        output_file.write_text("")
        env = self.environment(step.get("env") or {})
        env["GITHUB_OUTPUT"] = str(output_file)
        result = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
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
        """Each `run:` step of the job in order, stopping at the first failure as a runner
        does; steps whose name starts with one of `skip` are left out."""
        job = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"][job_id]
        results = []
        for step in job["steps"]:
            if "run" not in step or str(step.get("name", "")).startswith(skip) or not self.condition(step.get("if")):
                continue
            results.append(self.run_step(step))
            if results[-1].returncode != 0 and not step.get("continue-on-error"):
                break
        return results
