"""The main job: validate, generate, train, evaluate and publish in one run folder.

Each stage is keyed by a hash of what determines it. A stage whose key matches the one its
last successful run recorded is shown as cached and not run again. The stages' own caches
(generation units, training checkpoints, evaluation answers, an atomic bundle) make a run
killed at any moment resume where it stopped.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import taxon
from taxon.core.errors import EXIT_FAILED, TaxonError, UsageError
from taxon.core.progress import stage_group
from taxon.core.settings import Config
from taxon.core.store import atomic_write_json, hash_value
from taxon.pipeline import stages
from taxon.qna.layout import RunLayout

STAGES = tuple(stage.name for stage in stages.PIPELINE)
_BY_NAME = {stage.name: stage for stage in stages.PIPELINE}


@dataclass
class StageOutcome:
    name: str
    status: str  # "done" | "cached" | "failed" | "not run"
    seconds: float = 0.0
    figures: stages.Figures = field(default_factory=dict)
    error: str | None = None
    exit_code: int = 0  # of a failed stage: its error's code (a preempted training run: EXIT_PREEMPTED)


@dataclass
class PipelineResult:
    run_dir: Path
    outcomes: list[StageOutcome]

    @property
    def ok(self) -> bool:
        return all(outcome.status in ("done", "cached", "not run") for outcome in self.outcomes)

    def outcome(self, name: str) -> StageOutcome:
        return next(outcome for outcome in self.outcomes if outcome.name == name)

    @property
    def exit_code(self) -> int:
        return next((outcome.exit_code or EXIT_FAILED for outcome in self.outcomes if outcome.status == "failed"), 0)


def stage_range(first: str, last: str) -> list[str]:
    for name in (first, last):
        if name not in STAGES:
            raise UsageError(f"unknown stage '{name}'", hint=f"stages: {', '.join(STAGES)}")
    start, end = STAGES.index(first), STAGES.index(last)
    if start > end:
        raise UsageError(f"--from {first} comes after --to {last}")
    return list(STAGES[start : end + 1])


def _read_marker(run_dir: Path, name: str) -> dict[str, Any] | None:
    import json

    path = RunLayout(run_dir).markers_dir / f"{name}.json"
    try:
        marker: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker


def run_pipeline(
    taxonomy_root: Path,
    run_dir: Path,
    config: Config,
    first: str = "validate",
    last: str = "publish",
    quiet: bool = False,
    on_stage: Callable[[StageOutcome], None] | None = None,
) -> PipelineResult:
    """Run the stages from `first` to `last`; a failing stage stops the run (the stages after
    it are "not run") and its error is in the result. Stages before `first` must have run."""
    run_dir = Path(run_dir)
    selected = stage_range(first, last)
    context = stages.Context(Path(taxonomy_root), run_dir, config, quiet)
    atomic_write_json(context.layout.config_file, config.to_dict())
    _check_earlier_stages(STAGES[: STAGES.index(first)], context)
    outcomes: list[StageOutcome] = []
    failed = False
    for name in STAGES:
        if failed or name not in selected:
            outcomes.append(StageOutcome(name, "not run"))
            continue
        with stage_group(name):  # its own group in a GitHub Actions log
            outcome = _run_stage(name, context)
        outcomes.append(outcome)
        failed = outcome.status == "failed"
        if on_stage:
            on_stage(outcome)
    return PipelineResult(run_dir, outcomes)


def _stage_key(name: str, context: stages.Context) -> str:
    """The stage, its inputs and the taxon release that ran it: a new release may score or
    generate differently, so its first run goes through the stages' own caches again."""
    return hash_value({"stage": name, "taxon": taxon.__version__, "inputs": _BY_NAME[name].key(context)})


def _is_current(name: str, key: str, context: stages.Context) -> dict[str, Any] | None:
    """The marker of the stage's last success when it was for these very inputs and its outputs are there."""
    marker = _read_marker(context.run_dir, name)
    current = marker and marker.get("key") == key and _BY_NAME[name].outputs_exist(context)
    return marker if current else None


def _check_earlier_stages(names: tuple[str, ...], context: stages.Context) -> None:
    """--from STAGE builds on the stages before it: each must have succeeded in this run folder
    on the inputs it has now, or the later stages would work from missing or stale outputs."""
    for name in names:
        if _read_marker(context.run_dir, name) is None:
            problem = "has not run"
        elif not _is_current(name, _stage_key(name, context), context):
            problem = "is out of date (its inputs changed since it ran, or its outputs are gone)"
        else:
            continue
        raise UsageError(
            f"the {name} stage {problem} in {context.run_dir}",
            hint=f"run from it: taxon pipeline --from {name} (or without --from)",
        )


def _run_stage(name: str, context: stages.Context) -> StageOutcome:
    stage = _BY_NAME[name]
    started = time.monotonic()
    try:
        key = _stage_key(name, context)
        if marker := _is_current(name, key, context):
            return StageOutcome(name, "cached", time.monotonic() - started, marker.get("figures", {}))
        figures = stage.run(context)
    except TaxonError as error:
        return StageOutcome(name, "failed", time.monotonic() - started, error=str(error), exit_code=error.exit_code)
    atomic_write_json(context.layout.markers_dir / f"{name}.json", {"key": key, "figures": figures})
    return StageOutcome(name, "done", time.monotonic() - started, figures)
