"""The five stages of the pipeline, each as: the inputs that key it, a check that its outputs
are there, and a run that calls the stage's own function and returns its key figures."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from taxon.core.errors import TaxonError
from taxon.core.store import hash_file, hash_tree
from taxon.qna.layout import REPORT_JSON, SUMMARY_NAME, SUMS_NAME, TRAIN_RESULT_NAME, RunLayout
from taxon.qna.taxonomy import Leaf, load_leaves


@dataclass
class Context:
    taxonomy_root: Path
    run_dir: Path
    config: dict
    quiet: bool = False

    @property
    def layout(self) -> RunLayout:
        return RunLayout(self.run_dir)

    @cached_property
    def leaves(self) -> list[Leaf]:
        return load_leaves(self.taxonomy_root)

    @cached_property
    def base_model(self) -> str:
        from taxon.backends.models import resolve_model

        return resolve_model(self.config["models"]["base"], self.config)

    def leaf_hashes(self) -> dict[str, str]:
        return {leaf.leaf_id: leaf.content_hash() for leaf in self.leaves}

    def section(self, *names: str) -> dict:
        return {name: self.config.get(name, {}) for name in names}


def _file_hash(path: Path) -> str | None:
    return hash_file(path) if path.is_file() else None


class Validate:
    @staticmethod
    def key(context: Context) -> dict:
        from taxon.validate.schemas import schema_dir

        return {
            "taxonomy": hash_tree(context.taxonomy_root),
            "schemas": hash_tree(schema_dir()),
            **context.section("validate"),
        }

    @staticmethod
    def outputs_exist(context: Context) -> bool:
        return True

    @staticmethod
    def run(context: Context) -> dict:
        from taxon.validate.engine import validate_paths
        from taxon.validate.report import as_text
        from taxon.validate.settings import validate_settings

        report = validate_paths([context.taxonomy_root], validate_settings(context.config), latest=True)
        if report.errors:
            raise TaxonError(
                f"the taxonomy has {report.errors} error(s):\n{as_text(report, quiet=True)}",
                hint=f"fix them, or see: taxon validate --latest {context.taxonomy_root}",
            )
        return {"files": len(report.files), "warnings": report.warnings}


# How the teacher is reached, not what it answers: a new port or timeout must not make a finished
# generate stage run again (generate_leaves keys each leaf without them too).
TEACHER_TRANSPORT_KEYS = ("base_url", "api_key_env", "concurrency", "timeout_s", "retries", "backoff_s")


class Generate:
    @staticmethod
    def key(context: Context) -> dict:
        teacher = {k: v for k, v in context.config.get("teacher", {}).items() if k not in TEACHER_TRANSPORT_KEYS}
        return {"leaves": context.leaf_hashes(), "teacher": teacher, **context.section("generate", "documents")}

    @staticmethod
    def outputs_exist(context: Context) -> bool:
        return (context.layout.generate_dir / SUMMARY_NAME).is_file()

    @staticmethod
    def run(context: Context) -> dict:
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


class Train:
    @staticmethod
    def key(context: Context) -> dict:
        from taxon.train import RUNTIME_KEYS

        settings = {k: v for k, v in context.config.get("train", {}).items() if k not in RUNTIME_KEYS}
        replay = settings.get("replay")
        return {
            "samples": hash_tree(context.layout.generate_dir, "**/samples.jsonl"),
            "leaves": context.leaf_hashes(),
            "train": settings,
            **context.section("dataset"),
            "base": context.config["models"]["base"],
            "replay": _file_hash(Path(replay)) if replay else None,
        }

    @staticmethod
    def outputs_exist(context: Context) -> bool:
        return (context.layout.train_dir / TRAIN_RESULT_NAME).is_file()

    @staticmethod
    def run(context: Context) -> dict:
        from taxon.train import TrainResult

        settings = context.config.get("train", {})
        replay = Path(settings["replay"]) if settings.get("replay") else None
        result = TrainResult.from_summary(context.layout.train_dir, _train_in_processes(context, replay))
        return {
            "steps": result.steps,
            "tokens": result.tokens,
            "real_tokens": f"{result.real_token_fraction:.1%}",
            "final_loss": round(result.final_loss, 4),
        }


def _train_in_processes(context: Context, replay: Path | None) -> dict:
    """`taxon train` with the run's resolved config in a process of its own, which trains
    faster than one that has just generated (the demo's training: 297 s against 322 s), or, with
    `train.nproc_per_node` above 1 (or "gpu": one per GPU), under torchrun with FSDP."""
    import sys

    from taxon.train import EXIT_PREEMPTED, Preempted

    nproc = str(context.config["train"]["nproc_per_node"])
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
    return json.loads((context.layout.train_dir / TRAIN_RESULT_NAME).read_text(encoding="utf-8"))


def _dying_with_parent():
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


class Evaluate:
    @staticmethod
    def key(context: Context) -> dict:
        from taxon.evaluate.sets import BUILTIN_PROBE, BUILTIN_TEXT

        settings = context.config.get("evaluate", {})
        probe = settings.get("probe_file") or BUILTIN_PROBE
        text = settings.get("text_file") or BUILTIN_TEXT
        previous = _previous_bundle(context)
        return {
            "train": _file_hash(context.layout.train_dir / TRAIN_RESULT_NAME),
            "samples": hash_tree(context.layout.generate_dir, "**/samples.jsonl"),
            "leaves": context.leaf_hashes(),
            "probe": _file_hash(Path(probe)),
            "text": _file_hash(Path(text)),
            "previous": previous and [previous, _file_hash(Path(previous) / SUMS_NAME)],
            "changed": _changed_leaves(context),
            "gate_required": _gate_required(context),
            **context.section("evaluate", "dataset"),
        }

    @staticmethod
    def outputs_exist(context: Context) -> bool:
        return (context.layout.eval_dir / REPORT_JSON).is_file()

    @staticmethod
    def run(context: Context) -> dict:
        from taxon.evaluate import evaluate

        baselines = [context.base_model] + ([_previous_bundle(context)] if _previous_bundle(context) else [])
        report = evaluate(
            str(context.layout.train_dir / "model"),
            baselines,
            context.layout.generate_dir,
            context.leaves,
            context.layout.eval_dir,
            context.config,
            changed_leaves=_changed_leaves(context),
            quiet=context.quiet,
        )
        if not report.passed and _gate_required(context):
            raise TaxonError(
                "the evaluation gate failed: " + "; ".join(report.gate.reasons),
                hint=f"see {context.layout.eval_dir / 'report.md'}; nothing is published "
                "(to publish anyway: --set publish.require_passed_gate=false)",
            )
        return {"gate": "passed" if report.passed else "failed", **eval_figures(report.data)}


def _gate_required(context: Context) -> bool:
    """publish.require_passed_gate: whether a failed gate stops the run here, before publish."""
    return bool(context.config.get("publish", {}).get("require_passed_gate", True))


def _changed_leaves(context: Context) -> list[str] | None:
    """The leaves the gate requires to improve: part of the evaluate stage's key, since they decide its verdict."""
    return context.config.get("pipeline", {}).get("changed_leaves") or None


def _previous_bundle(context: Context) -> str | None:
    previous = context.config.get("pipeline", {}).get("previous_bundle") or ""
    return previous if previous and Path(previous).is_dir() else None


def eval_figures(report: dict) -> dict:
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


class Publish:
    @staticmethod
    def key(context: Context) -> dict:
        return {
            "train": _file_hash(context.layout.train_dir / TRAIN_RESULT_NAME),
            "eval": _file_hash(context.layout.eval_dir / REPORT_JSON),
            **context.section("publish"),
        }

    @staticmethod
    def outputs_exist(context: Context) -> bool:
        return (context.layout.bundle_dir / SUMS_NAME).is_file()

    @staticmethod
    def run(context: Context) -> dict:
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


STAGE_FUNCTIONS = {"validate": Validate, "generate": Generate, "train": Train, "evaluate": Evaluate, "publish": Publish}
