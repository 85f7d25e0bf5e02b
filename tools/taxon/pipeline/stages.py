"""The five stages of the pipeline, each as three plain functions: the inputs that key it, a
check that its outputs are there, and a run that calls the stage's own function and returns
its key figures. `PIPELINE` lists them in order."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from taxon.core.errors import TaxonError
from taxon.core.settings import Config, plain
from taxon.core.store import atomic_write_json, hash_file, hash_tree
from taxon.documents.records import content_settings
from taxon.qna.decisions import decisions_digest, decisions_still_needed
from taxon.qna.layout import (
    MODEL_DIR,
    REPORT_JSON,
    REPORT_MD,
    STATS_NAME,
    SUMMARY_NAME,
    SUMS_NAME,
    TRAIN_RESULT_NAME,
    RunLayout,
    decisions_root,
    read_bundle_leaves,
)
from taxon.qna.taxonomy import Leaf, iter_qna_files, leaf_id, load_leaves, select_qna_files

Figures = dict[str, Any]


@dataclass
class Context:
    taxonomy_root: Path
    run_dir: Path
    config: Config
    quiet: bool = False

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.run_dir)

    @property
    def leaf_patterns(self) -> list[str]:
        """[pipeline] leaves (`--leaves`): the leaves the run is over; [] = all."""
        return list(self.config.pipeline.leaves)

    @cached_property
    def leaves(self) -> list[Leaf]:
        return load_leaves(self.taxonomy_root, self.leaf_patterns)

    @cached_property
    def base_model(self) -> str:
        from taxon.backends.models import resolve_model

        return resolve_model(self.config.models.base, self.config.models)

    def leaf_hashes(self) -> dict[str, str]:
        return {leaf.leaf_id: leaf.content_hash() for leaf in self.leaves}

    def decisions(self) -> str:
        """The maintainers' decisions (decisions/ beside the taxonomy): part of the generate
        and train keys, so a new decision trains again without asking the teacher anything."""
        return decisions_digest(decisions_root(self.taxonomy_root))


@dataclass(frozen=True)
class Stage:
    name: str
    key: Callable[[Context], dict[str, Any]]  # what determines its outputs: a new key reruns it
    outputs_exist: Callable[[Context], bool]
    run: Callable[[Context], Figures]


def _file_hash(path: Path) -> str | None:
    return hash_file(path) if path.is_file() else None


def validate_key(context: Context) -> dict[str, Any]:
    from taxon.validate.schemas import schema_dir

    taxonomy: object
    if context.leaf_patterns:  # the chosen leaves' folders: a change elsewhere is no concern of this run
        chosen, _ = select_qna_files(context.taxonomy_root, context.leaf_patterns)
        taxonomy = {leaf_id(path): hash_tree(path.parent) for path in chosen}
    else:
        taxonomy = hash_tree(context.taxonomy_root)
    return {
        "taxonomy": taxonomy,
        "leaves": context.leaf_patterns,
        "decisions": context.decisions(),
        "schemas": hash_tree(schema_dir()),
        "validate": plain(context.config.validate),
    }


def validate_outputs_exist(context: Context) -> bool:
    return True  # its outcome is the marker itself


def run_validate(context: Context) -> Figures:
    from taxon.validate.decisions import validate_decisions_folder
    from taxon.validate.engine import validate_paths
    from taxon.validate.report import as_text

    root, patterns, settings = context.taxonomy_root, context.leaf_patterns, context.config.validate
    chosen, left_out = select_qna_files(root, patterns)
    atomic_write_json(
        context.layout.leaves_file,
        {"patterns": patterns, "leaves": [leaf_id(p) for p in chosen], "left_out": [leaf_id(p) for p in left_out]},
    )
    if patterns:  # those leaves alone, the others still in view for the tree-wide warnings
        report = validate_paths(chosen, settings, latest=True, tree_context=[root])
    else:
        report = validate_paths([root], settings, latest=True)
    decisions = decisions_root(root)
    if decisions.is_dir():  # the maintainers' decisions, for the leaves there are
        known = {leaf_id(path) for path in iter_qna_files(root)}
        report.decisions = validate_decisions_folder(decisions, settings, known, None)
    if report.errors:
        subset = f" in the {len(chosen)} leaves chosen by [pipeline] leaves" if patterns else ""
        raise TaxonError(
            f"the taxonomy has {report.errors} error(s){subset}:\n{as_text(report, quiet=True)}",
            hint=f"fix them, or see: taxon validate --latest {root}"
            + ("; or run on the leaves that are ready: taxon pipeline --leaves PATTERN..." if not patterns else ""),
        )
    figures: Figures = {"files": len(report.files), "decisions": len(report.decisions), "warnings": report.warnings}
    return figures | ({"left_out": len(left_out)} if patterns else {})


# How the teacher is reached, not what it answers: a new port or timeout must not make a finished
# generate stage run again (generate_leaves keys each leaf without them too).
TEACHER_TRANSPORT_KEYS = ("base_url", "api_key_env", "concurrency", "timeout_s", "retries", "backoff_s")


def generate_key(context: Context) -> dict[str, Any]:
    config = context.config
    teacher = {k: v for k, v in plain(config.teacher).items() if k not in TEACHER_TRANSPORT_KEYS}
    return {
        "leaves": context.leaf_hashes(),
        "decisions": context.decisions(),
        "teacher": teacher,
        "generate": plain(config.generate),
        "documents": content_settings(config.documents),  # a new mirror fetches the same commits
    }


def generate_outputs_exist(context: Context) -> bool:
    return (context.layout.generate_dir / SUMMARY_NAME).is_file()


def run_generate(context: Context) -> Figures:
    from taxon.generate.run import generate_leaves

    result = generate_leaves(context.leaves, context.layout.generate_dir, context.config, quiet=context.quiet)
    kept = sum(stats.get("kept", 0) for stats in result.leaves.values())
    generated = sum(stats.get("generated", 0) for stats in result.leaves.values())
    return {
        "leaves": len(result.leaves),
        "generated": generated,
        "kept": kept,
        "teacher_calls": result.calls,
        "cached_units": result.cached_units,
    }


def train_key(context: Context) -> dict[str, Any]:
    from taxon.train import computing_settings

    config = context.config
    return {
        "samples": hash_tree(context.layout.generate_dir, "**/samples.jsonl"),
        "leaves": context.leaf_hashes(),
        "decisions": context.decisions(),
        "require_decisions": _review_policy_key(context),
        "train": computing_settings(config.train),
        "dataset": plain(config.dataset),
        "base": config.models.base,
        "replay": _file_hash(Path(config.train.replay)) if config.train.replay else None,
    }


def train_outputs_exist(context: Context) -> bool:
    return (context.layout.train_dir / TRAIN_RESULT_NAME).is_file()


def run_train(context: Context) -> Figures:
    from taxon.train import TrainResult

    check_review_policy(context)
    replay = Path(context.config.train.replay) if context.config.train.replay else None
    result = TrainResult.from_summary(context.layout.train_dir, _train_in_processes(context, replay))
    return {
        "steps": result.steps,
        "tokens": result.tokens,
        "real_tokens": f"{result.real_token_fraction:.1%}",
        "final_loss": round(result.final_loss, 4),
    }


def review_policy_leaves(context: Context) -> list[Leaf]:
    """The leaves [review] require_decisions holds to: pipeline.changed_leaves when set, else
    those new or changed since the previous release's bundle, else (no release yet) all."""
    named = _changed_leaves(context)
    if named:
        return [leaf for leaf in context.leaves if leaf.leaf_id in named]
    previous = _previous_bundle(context)
    released = read_bundle_leaves(Path(previous)) if previous else None
    if released is None:
        return list(context.leaves)
    return [leaf for leaf in context.leaves if released.get(leaf.leaf_id) != leaf.content_hash()]


def _review_policy_key(context: Context) -> list[Any] | None:
    share = context.config.review.require_decisions
    return [share, sorted(leaf.leaf_id for leaf in review_policy_leaves(context))] if share > 0 else None


def check_review_policy(context: Context) -> None:
    """[review] require_decisions: the share of each changed leaf's teacher-written samples (those
    the filters kept) that must carry a maintainer's decision before it trains."""
    share = context.config.review.require_decisions
    if share == 0:
        return
    short = []
    for leaf in review_policy_leaves(context):
        try:
            stats = json.loads((context.layout.generate_dir / leaf.leaf_id / STATS_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        counts = stats.get("decisions") or {}
        needed = decisions_still_needed(counts, share)
        if needed:
            short.append(
                f"{leaf.leaf_id}: {counts.get('teacher_reviewed', 0)} of {counts.get('teacher_written', 0)} "
                f"teacher-written samples decided, {needed} more needed"
            )
    if short:
        raise TaxonError(
            f"[review] require_decisions = {share:g}: {len(short)} changed leaf(s) lack decisions: " + "; ".join(short),
            hint="decide on their samples (the review page, a /taxon keep|drop|fix comment or taxon review decide), "
            "or lower review.require_decisions",
        )


def _train_in_processes(context: Context, replay: Path | None) -> dict[str, Any]:
    """`taxon train` with the run's resolved config in a process of its own, which trains
    faster than one that has just generated (the demo's training: 297 s against 322 s), or, with
    `train.nproc_per_node` above 1 (or "gpu": one per GPU), under torchrun with FSDP."""
    import sys

    from taxon.train import EXIT_PREEMPTED, Preempted

    nproc = str(context.config.train.nproc_per_node)
    launcher = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"] if nproc != "1" else []
    command = [
        sys.executable,
        *launcher,
        "-m",
        "taxon",
        "train",
        "--data",
        str(context.layout.generate_dir),
        "--taxonomy",
        str(context.taxonomy_root),
        "--out",
        str(context.layout.train_dir),
        "--base",
        context.base_model,
        "--config",
        str(context.layout.config_file),
        *(["--replay", str(replay)] if replay else []),
        *(["--quiet"] if context.quiet else []),
    ]
    returncode = _run_child(command)
    if returncode == EXIT_PREEMPTED:
        raise Preempted("training stopped by SIGTERM; checkpoint saved", hint="rerun the pipeline to resume")
    if returncode != 0:
        raise TaxonError(
            f"training exited with code {returncode}",
            hint="its output is above; rerun the pipeline to resume from the last checkpoint",
        )
    summary: dict[str, Any] = json.loads((context.layout.train_dir / TRAIN_RESULT_NAME).read_text(encoding="utf-8"))
    return summary


def _dying_with_parent() -> Callable[[], object] | None:
    """A preexec_fn for a stage's process: SIGKILL when the pipeline's process dies (Linux's
    PR_SET_PDEATHSIG), so a killed pipeline leaves no training behind to race the rerun. The
    call is looked up here, before the fork: the child only makes it."""
    import ctypes
    import signal

    try:
        prctl = ctypes.CDLL(None).prctl
    except (OSError, AttributeError):
        return None
    return lambda: prctl(1, signal.SIGKILL)


def _run_child(command: list[str]) -> int:
    """Run a stage's process to its end; a SIGTERM to the pipeline (a preemption notice) is
    passed on to it, so it saves a checkpoint and exits as it would on its own."""
    import signal
    import subprocess

    child = subprocess.Popen(command, preexec_fn=_dying_with_parent())
    try:
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signal.SIGTERM))
    except ValueError:  # not the main thread: no signal reaches this one
        return child.wait()
    try:
        return child.wait()
    finally:
        signal.signal(signal.SIGTERM, previous)


def evaluate_key(context: Context) -> dict[str, Any]:
    from taxon.evaluate.sets import BUILTIN_PROBE, BUILTIN_TEXT

    settings = context.config.evaluate
    probe = settings.probe_file or BUILTIN_PROBE
    text = settings.text_file or BUILTIN_TEXT
    previous = _previous_bundle(context)
    publish = context.config.publish
    return {
        "train": _file_hash(context.layout.train_dir / TRAIN_RESULT_NAME),
        "samples": hash_tree(context.layout.generate_dir, "**/samples.jsonl"),
        "leaves": context.leaf_hashes(),
        "probe": _file_hash(Path(probe)),
        "text": _file_hash(Path(text)),
        "previous": previous and [previous, _file_hash(Path(previous) / SUMS_NAME)],
        "changed": _changed_leaves(context),
        "gate_required": _gate_required(context),
        "evaluate": plain(settings),
        "dataset": plain(context.config.dataset),
        "gguf": {
            "gguf": publish.gguf,
            "quantize": list(publish.quantize),
            "min_fact_retention": publish.min_fact_retention,
        },
    }


def evaluate_outputs_exist(context: Context) -> bool:
    return (context.layout.eval_dir / REPORT_JSON).is_file()


def run_evaluate(context: Context) -> Figures:
    from taxon.evaluate import evaluate
    from taxon.publish.bundle import gguf_files_to_evaluate

    previous = _previous_bundle(context)
    model_dir = context.layout.train_dir / MODEL_DIR
    gguf_files = gguf_files_to_evaluate(model_dir, context.layout.eval_dir / "gguf", context.config.publish)
    report = evaluate(
        str(model_dir),
        [context.base_model, *([previous] if previous else [])],
        context.layout.generate_dir,
        context.leaves,
        context.layout.eval_dir,
        context.config,
        changed_leaves=_changed_leaves(context),
        quiet=context.quiet,
        gguf_files=gguf_files,
    )
    if not report.passed and _gate_required(context):
        raise TaxonError(
            "the evaluation gate failed: " + "; ".join(report.gate.reasons),
            hint=f"see {context.layout.eval_dir / REPORT_MD}; nothing is published "
            "(to publish anyway: --set publish.require_passed_gate=false)",
        )
    return {"gate": "passed" if report.passed else "failed", **eval_figures(report.data)}


def _gate_required(context: Context) -> bool:
    """publish.require_passed_gate: whether a failed gate stops the run here, before publish."""
    return context.config.publish.require_passed_gate


def _changed_leaves(context: Context) -> list[str] | None:
    """The leaves the gate requires to improve: part of the evaluate stage's key, since they decide its verdict."""
    return list(context.config.pipeline.changed_leaves) or None


def _previous_bundle(context: Context) -> str | None:
    previous = context.config.pipeline.previous_bundle
    return previous if previous and Path(previous).is_dir() else None


def eval_figures(report: dict[str, Any]) -> Figures:
    """Candidate minus the first baseline: knowledge fact accuracy and multiple choice, skill
    accuracy, general probe accuracy and text loss, each the mean difference with its interval."""
    from taxon.evaluate.sets import PROBE_ID, TEXT_ID

    baseline = report["baselines"][0]
    knowledge, skills = report["totals"]["knowledge"], report["totals"]["skills"]
    probe, text = report["sets"].get(PROBE_ID, {}), report["sets"].get(TEXT_ID, {})
    figures = {  # figure name: (the set's report entry, its metric)
        "knowledge_fact_accuracy": (knowledge, "fact_accuracy"),
        "knowledge_mc_acc": (knowledge, "mc_acc"),
        "skill_accuracy": (skills, "skill_accuracy"),
        "probe_mc_acc": (probe, "mc_acc"),
        "text_nll": (text, "nll"),
    }
    found = {}
    for name, (entry, metric) in figures.items():
        interval = ((entry.get("comparisons", {}).get(baseline) or {}).get("intervals", {})).get(metric)
        if interval:
            found[name] = interval
    return found


def publish_key(context: Context) -> dict[str, Any]:
    return {
        "train": _file_hash(context.layout.train_dir / TRAIN_RESULT_NAME),
        "eval": _file_hash(context.layout.eval_dir / REPORT_JSON),
        "publish": plain(context.config.publish),
    }


def publish_outputs_exist(context: Context) -> bool:
    return (context.layout.bundle_dir / SUMS_NAME).is_file()


def run_publish(context: Context) -> Figures:
    from taxon.publish import publish

    bundle = publish(
        context.layout.train_dir,
        context.layout.eval_dir,
        context.layout.generate_dir,
        context.leaves,
        context.config,
        str(context.layout.bundle_dir),
    )
    size = sum(path.stat().st_size for path in bundle.rglob("*") if path.is_file())
    return {"bundle": str(bundle), "size_mb": round(size / 2**20, 1)}


PIPELINE: tuple[Stage, ...] = (
    Stage("validate", validate_key, validate_outputs_exist, run_validate),
    Stage("generate", generate_key, generate_outputs_exist, run_generate),
    Stage("train", train_key, train_outputs_exist, run_train),
    Stage("evaluate", evaluate_key, evaluate_outputs_exist, run_evaluate),
    Stage("publish", publish_key, publish_outputs_exist, run_publish),
)
