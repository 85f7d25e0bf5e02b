"""Checkable skills against training data: the packaged SmolLM2-135M-Instruct trained on the
demo's checkable skill leaves alone (sums, parity, comparisons, weekdays, unit conversions:
the leaves a checker serves), on their training seeds and `k` checker variants a seed
(`generate.checker_variants_per_seed`, the cpu profile's 2 and more), then asked evaluation's
checker questions (`qna.heldout.checker_items`: 20 a leaf, none trained) and scored by the
checker's value (`Solution.holds`), as evaluation scores them.

The question it answers: does the student learn the task itself from more worked examples,
or only the answer's form? Each point is one training run with the cpu profile's recipe (full
fine-tuning, lr 4e-4, 2 epochs, 2 rows a step) and no other rows, so the leaves have every step
to themselves: an upper bound for what they learn inside the demo's mixed training. Results
go to a JSONL file, tabulated with `--table`.

    python bench/skill_curve.py --points base,variants-2,variants-8
    python bench/skill_curve.py --table
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from curves import REPO, chat_model, curve_command, greedy_answers
from summary import emit
from taxon.core.config import load_config
from taxon.core.settings import Config
from taxon.generate.run import leaf_job
from taxon.generate.skills import checker_variants
from taxon.generate.steps import sample_row
from taxon.qna.heldout import TRAIN, TrainingSplit, checker_items
from taxon.qna.samples import seed_samples
from taxon.qna.solvers import Solution
from taxon.qna.taxonomy import load_leaves

ANSWER_TOKENS = 40  # evaluation's cpu profile: one sentence
POINTS = {"base": None, "variants-2": 2, "variants-8": 8, "variants-16": 16}


def skill_rows(config: Config, per_seed: int) -> tuple[list[dict], list[tuple[str, str, Solution]], dict]:
    """Training rows (training seeds and checker variants of the checkable leaves) and the
    checker questions evaluation asks them, with their solutions."""
    settings = replace(config.generate, checker_variants_per_seed=per_seed)
    eval_share = config.dataset.eval_share
    skill_leaves = [leaf for leaf in load_leaves(REPO / "taxonomy") if leaf.kind != "knowledge"]
    asked_of = {leaf.leaf_id: checker_items(leaf) for leaf in skill_leaves}
    leaves = [leaf for leaf in skill_leaves if asked_of[leaf.leaf_id]]
    split = TrainingSplit(leaves, eval_share)
    rows, items, counts = [], [], {}
    for leaf in leaves:
        job = leaf_job(leaf, settings, "bench", eval_share)
        variants = [sample_row(job, c) for c in checker_variants(job) if c.live]
        seeds = seed_samples(leaf)
        asked = asked_of[leaf.leaf_id]
        before = len(rows)
        rows += [row for row in seeds + variants if split.side(row) == TRAIN]
        items += [(leaf.leaf_id, question, solution) for question, solution in asked]
        counts[leaf.leaf_id] = {"rows": len(rows) - before, "variants": len(variants), "items": len(asked)}
    return rows, items, counts


def run_point(name: str, base: str, threads: int) -> dict:
    per_seed = POINTS[name]
    config = load_config(
        "cpu",
        REPO / "taxon.toml",
        {
            "train": {"checkpoint_every": 0, "resume": False, "max_steps": 0, "threads": threads, "replay_share": 0},
            "teacher": {"threads": threads},
        },
    )
    rows, items, counts = skill_rows(config, per_seed or 0)
    figures: dict = {"point": name, "rows": len(rows), "items": len(items), "leaves": counts, "threads": threads}
    figures["load_average"] = round(os.getloadavg()[0], 2)  # before the point: how quiet the machine was
    model = base
    with tempfile.TemporaryDirectory() as scratch:
        if per_seed is not None:
            from taxon.train.stage import train

            data = Path(scratch) / "data"
            (data / "bench").mkdir(parents=True)
            (data / "bench" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            started = time.perf_counter()
            result = train(data, [], base, Path(scratch) / "train", config, replay=None, quiet=True)
            figures.update(train_s=round(time.perf_counter() - started, 1), steps=result.steps, tokens=result.tokens)
            model = str(result.model_dir)
        said = greedy_answers(chat_model(model, config), [question for _, question, _ in items], ANSWER_TOKENS)
    by_leaf: dict[str, list[bool]] = {}
    for (leaf_id, _, solution), answer in zip(items, said):
        by_leaf.setdefault(leaf_id, []).append(solution.holds(answer))
    right = [score for scores in by_leaf.values() for score in scores]
    figures["accuracy"] = round(sum(right) / len(right), 3)
    figures["by_leaf"] = {leaf_id.rsplit("/", 1)[-1]: f"{sum(v)}/{len(v)}" for leaf_id, v in by_leaf.items()}
    figures["examples"] = [
        {"question": question, "checker": solution.value, "answer": answer}
        for (_, question, solution), answer in list(zip(items, said))[::10]
    ]
    return figures


def table(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    print(
        "checker-question accuracy of the packaged SmolLM2-135M-Instruct on the demo's checkable skill\n"
        "leaves (20 questions a leaf, none trained), after training on their seeds and k checker\n"
        "variants a seed alone (cpu profile recipe); one training run per point"
    )
    print(f"{'point':<14}{'rows':>6}{'steps':>7}{'tokens':>8}{'train s':>9}{'load':>6}{'right':>8}  by leaf")
    for r in rows:
        print(
            f"{r['point']:<14}{r['rows']:>6}{r.get('steps', 0):>7}{r.get('tokens', 0):>8}{r.get('train_s', 0):>9}"
            f"{r['load_average']:>6.1f}{r['accuracy']:>8.1%}  {r['by_leaf']}"
        )
    base = next((r for r in reversed(rows) if r["point"] == "base"), None)
    trained = [r for r in rows if r["point"] != "base"]
    if base and trained:
        best = max(trained, key=lambda r: r["accuracy"])
        emit(
            "checkable skills, evaluation's checker questions, student trained on them alone",
            f"{best['accuracy']:.0%} ({best['point']}, {best['rows']} rows)",
            f"base {base['accuracy']:.0%}",
            "a record: how far more checker variants move the 135M student",
            True,
        )


def main() -> int:
    return curve_command(
        __doc__,
        POINTS,
        "base,variants-2,variants-8",
        "skill_curve.jsonl",
        lambda name, base, args: run_point(name, base, args.threads),
        table,
    )


if __name__ == "__main__":
    sys.exit(main())
