"""Fact accuracy against training cost: the packaged SmolLM2-135M-Instruct trained on demo
knowledge leaves' rows made without a teacher (the document-derived samples and the training
seeds, split as training splits them), then asked evaluation's own fact questions
(`qna.facts.fact_questions`: the held-out seeds and a cloze per document fact, none of them
trained) and scored by evaluation's fact match.

Each point is one training run with its own settings; `--points` picks them, `--leaves` the
leaves (folder names, default: all four), results go to a JSONL file so points can be run one
at a time on a shared machine and tabulated with `--table`.

    python bench/knowledge_curve.py --points base,lora-e3 --leaves glimmerball
    python bench/knowledge_curve.py --table
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from curves import REPO, chat_model, curve_command, greedy_answers
from summary import emit
from taxon.core.config import load_config
from taxon.core.settings import Config
from taxon.core.store import atomic_write_jsonl, read_jsonl
from taxon.documents import load_leaf_documents
from taxon.documents.sections import document_sections
from taxon.generate.derived import document_candidates
from taxon.generate.run import leaf_job
from taxon.generate.steps import sample_row
from taxon.qna.facts import fact_questions
from taxon.qna.heldout import TRAIN, TrainingSplit
from taxon.qna.samples import seed_samples
from taxon.qna.taxonomy import load_leaves
from taxon.qna.text import fact_match

ANSWER_TOKENS = 48
LORA64 = {"method": "lora", "lora_rank": 64, "lora_alpha": 128, "learning_rate": 2e-3}
FULL = {"method": "full"}
# a point's "replay": LONG_REPLAY trains on the shipped replay set's long-answer rows alone
# (ids long-*: a paragraph or two of prose each), so their own effect shows
LONG_REPLAY = "long"
# full fine-tuning, 2 epochs at 2 rows a step, with some of the prose replay rows
PROSE = {**FULL, "epochs": 2, "rows_per_step": 2, "replay": LONG_REPLAY}
# the forms every point below was run with, before sentence_fact replaced sentence_topic in the defaults
ALL_FORMS = ["section", "sentence_topic", "sentence_continue", "seed_bare"]
# name: (train overrides, document forms)
POINTS = {
    "base": (None, ALL_FORMS),
    "lora-e2": ({**LORA64, "epochs": 2}, ALL_FORMS),
    "lora-e4": ({**LORA64, "epochs": 4}, ALL_FORMS),
    "lora-e8": ({**LORA64, "epochs": 8}, ALL_FORMS),
    "lora-e16": ({**LORA64, "epochs": 16}, ALL_FORMS),
    # the same tokens in 4x (8x) the optimizer steps: 2 (1) packed rows of 512 tokens a step instead of 8
    "lora-e2-rows2": ({**LORA64, "epochs": 2, "rows_per_step": 2}, ALL_FORMS),
    "lora-e4-rows2": ({**LORA64, "epochs": 4, "rows_per_step": 2}, ALL_FORMS),
    "lora-e2-rows1": ({**LORA64, "epochs": 2, "rows_per_step": 1}, ALL_FORMS),
    "lora-e4-continue": ({**LORA64, "epochs": 4}, ["sentence_continue", "seed_bare"]),
    "full-e2": ({"method": "full", "learning_rate": 1e-4, "epochs": 2}, ALL_FORMS),
    "full-e2-rows2": ({"method": "full", "learning_rate": 1e-4, "epochs": 2, "rows_per_step": 2}, ALL_FORMS),
    "full-e4": ({"method": "full", "learning_rate": 1e-4, "epochs": 4}, ALL_FORMS),
    # full fine-tuning at higher learning rates: every weight moves, no adapter matmuls to pay for
    "full-e2-rows2-lr3e-4": ({**FULL, "learning_rate": 3e-4, "epochs": 2, "rows_per_step": 2}, ALL_FORMS),
    "full-e2-rows2-lr1e-3": ({**FULL, "learning_rate": 1e-3, "epochs": 2, "rows_per_step": 2}, ALL_FORMS),
    "full-e2-rows1-lr3e-4": ({**FULL, "learning_rate": 3e-4, "epochs": 2, "rows_per_step": 1}, ALL_FORMS),
    "full-e3-rows2-lr3e-4": ({**FULL, "learning_rate": 3e-4, "epochs": 3, "rows_per_step": 2}, ALL_FORMS),
    "full-e2-rows2-lr5e-4": ({**FULL, "learning_rate": 5e-4, "epochs": 2, "rows_per_step": 2}, ALL_FORMS),
    # half as many general chat rows as the leaf's rows mixed in against forgetting (the profile: a tenth)
    "full-e2-rows2-lr5e-4-replay50": (
        {**FULL, "learning_rate": 5e-4, "epochs": 2, "rows_per_step": 2, "replay_share": 0.5},
        ALL_FORMS,
    ),
    "full-e2-rows2-lr5e-4-longreplay20": ({**PROSE, "learning_rate": 5e-4, "replay_share": 0.2}, ALL_FORMS),
    "full-e2-rows2-lr1e-3-longreplay20": ({**PROSE, "learning_rate": 1e-3, "replay_share": 0.2}, ALL_FORMS),
    # more prose against the forgetting a high learning rate brings: 60 and 37 of the 120 prose rows
    "full-e2-rows2-lr1e-3-longreplay65": ({**PROSE, "learning_rate": 1e-3, "replay_share": 0.65}, ALL_FORMS),
    "full-e2-rows2-lr7e-4-longreplay40": ({**PROSE, "learning_rate": 7e-4, "replay_share": 0.4}, ALL_FORMS),
    # the cpu profile's forms: no sentence_topic (it restates sentence_continue's sentences)
    "full-e2-rows2-lr5e-4-longreplay20-notopic": (
        {**PROSE, "learning_rate": 5e-4, "replay_share": 0.2},
        ["section", "sentence_continue", "seed_bare"],
    ),
    # a third epoch at a low learning rate, with prose against its forgetting
    "full-e3-rows2-lr3e-4-longreplay20": (
        {**PROSE, "learning_rate": 3e-4, "epochs": 3, "replay_share": 0.2},
        ALL_FORMS,
    ),
    # the embeddings and the lowest 15 of 30 layers frozen: backward stops halfway down
    "full-e2-rows2-lr5e-4-longreplay20-frozen15": (
        {**PROSE, "learning_rate": 5e-4, "replay_share": 0.2, "frozen_layers": 15},
        ALL_FORMS,
    ),
    "full-e2-rows2-lr1e-3-longreplay20-frozen15": (
        {**PROSE, "learning_rate": 1e-3, "replay_share": 0.2, "frozen_layers": 15},
        ALL_FORMS,
    ),
}


def knowledge_rows(config: Config, names: set[str] | None) -> tuple[list[dict], list, dict]:
    """Training rows (derived samples + seeds, on the training side of the pipeline's split)
    and evaluation's fact questions of the chosen demo knowledge leaves."""
    settings = config.generate
    eval_share = config.dataset.eval_share
    leaves = [
        leaf
        for leaf in load_leaves(REPO / "taxonomy")
        if leaf.kind == "knowledge" and (not names or leaf.folder.name in names)
    ]
    sections = {
        leaf.leaf_id: [s for d in load_leaf_documents(leaf, config.documents) for s in document_sections(d)]
        for leaf in leaves
    }
    questions = {
        leaf.leaf_id: fact_questions(
            leaf, [s for section in sections[leaf.leaf_id] for s in section.sentences], eval_share
        )
        for leaf in leaves
    }
    split = TrainingSplit(
        leaves, eval_share, {leaf_id: tuple(q.question for q in asked) for leaf_id, asked in questions.items()}
    )
    rows, items, counts = [], [], {}
    for leaf in leaves:
        job = leaf_job(leaf, settings, "bench", eval_share)
        made = [sample_row(job, c) for c in document_candidates(job, sections[leaf.leaf_id], settings.document_forms)]
        made += seed_samples(leaf)
        trained = [row for row in made if split.side(row) == TRAIN]
        rows += trained
        items += questions[leaf.leaf_id]
        counts[leaf.leaf_id] = {
            "rows": len(trained),
            "not_trained": len(made) - len(trained),
            "items": len(questions[leaf.leaf_id]),
        }
    return rows, items, counts


def answers(model: str, questions: list[str], config: Config) -> tuple[list[str], float]:
    """The model's greedy answers, and its loss on evaluation's held-out general text (mean
    nats per token over the paragraphs, as evaluation reports it): what the training cost."""
    from taxon.evaluate.sets import text_eval_set

    teacher = chat_model(model, config)
    said = greedy_answers(teacher, questions, ANSWER_TOKENS)
    paragraphs = text_eval_set().items
    logprobs = teacher.answer_loglikelihood(
        [(({"role": "user", "content": p.question},), p.reference) for p in paragraphs]
    )
    return said, -sum(logprobs) / len(logprobs)


def run_point(name: str, base: str, names: set[str] | None, threads: int) -> dict:
    overrides, forms = POINTS[name]
    config = load_config(
        "cpu",
        REPO / "taxon.toml",
        {
            "generate": {"document_forms": forms},
            "train": {**(overrides or {}), "checkpoint_every": 0, "resume": False, "max_steps": 0, "threads": threads},
            "teacher": {"threads": threads},
        },
    )
    rows, items, counts = knowledge_rows(config, names)
    figures = {
        "point": name,
        "forms": forms,
        "rows": len(rows),
        "items": len(items),
        "leaves": counts,
        "threads": threads,
        "load_average": round(os.getloadavg()[0], 2),  # before the point: how quiet the machine was
    }
    model = base
    with tempfile.TemporaryDirectory() as scratch:
        if overrides is not None:
            from taxon.train.stage import train

            data = Path(scratch) / "data"
            (data / "bench").mkdir(parents=True)
            (data / "bench" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            replay = config.train.replay
            if replay == LONG_REPLAY:
                from taxon.train.data import BUILTIN_REPLAY

                replay = Path(scratch) / "long_replay.jsonl"
                prose = [row for row in read_jsonl(BUILTIN_REPLAY) if row["metadata"]["id"].startswith("long-")]
                atomic_write_jsonl(replay, prose)
            started, cpu = time.perf_counter(), time.process_time()
            result = train(
                data, [], base, Path(scratch) / "train", config, replay=Path(replay) if replay else None, quiet=True
            )
            figures.update(
                train_s=round(time.perf_counter() - started, 1),
                cpu_s=round(time.process_time() - cpu, 1),
                steps=result.steps,
                tokens=result.tokens,
                final_loss=round(result.final_loss, 4),
                train=overrides,
            )
            model = str(result.model_dir)
        started = time.perf_counter()
        said, figures["text_loss"] = answers(model, [item.question for item in items], config)
        figures["answer_s"] = round(time.perf_counter() - started, 1)
    right = [fact_match(answer, item.key_facts, item.question) for item, answer in zip(items, said)]
    by_source = {}
    for item, score in zip(items, right):
        by_source.setdefault(item.source, []).append(score)
    figures["fact_accuracy"] = round(sum(right) / len(right), 3)
    figures["by_source"] = {source: f"{int(sum(v))}/{len(v)}" for source, v in sorted(by_source.items())}
    figures["examples"] = [
        {"question": item.question, "reference": item.reference, "answer": answer, "right": score}
        for item, answer, score in list(zip(items, said, right))[:8]
    ]
    return figures


def table(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    print(
        "fact accuracy of the packaged SmolLM2-135M-Instruct on evaluation's fact questions (held-out\n"
        "seeds and a cloze per document fact, none trained), after training on the rows derived from\n"
        "the documents plus the training seeds; one training run per point (cpu profile, float32);\n"
        "text: the loss on evaluation's held-out general text, nats per token (lower is better)"
    )
    print(
        f"{'point':<20}{'rows':>6}{'steps':>7}{'tokens':>9}{'train s':>9}{'cpu s':>8}{'load':>6}{'loss':>8}"
        f"{'text':>7}{'facts':>8}"
    )
    for r in rows:
        print(
            f"{r['point']:<20}{r['rows']:>6}{r.get('steps', 0):>7}{r.get('tokens', 0):>9}"
            f"{r.get('train_s', 0):>9}{r.get('cpu_s', 0):>8}{r.get('load_average', float('nan')):>6.1f}"
            f"{r.get('final_loss', float('nan')):>8.3f}{r.get('text_loss', float('nan')):>7.3f}"
            f"{r['fact_accuracy']:>8.1%}  {r['by_source']} {','.join(sorted(r['leaves']))}"
        )
    base = next((r for r in reversed(rows) if r["point"] == "base" and "text_loss" in r), None)
    if base is None:
        return
    # a point counts only if it kept general ability as the gate asks (text loss within its threshold)
    rise = load_config("cpu", REPO / "taxon.toml", {}).evaluate.gate.text_max_loss_rise
    kept = [r for r in rows if r["point"] != "base" and r.get("text_loss", math.inf) <= base["text_loss"] + rise]
    best = max(kept, key=lambda r: r["fact_accuracy"], default=None)
    if best:
        emit(
            "knowledge fact accuracy, evaluation's fact questions (best point within the gate's text loss rise)",
            f"{best['fact_accuracy']:.0%} ({best['point']}, {best['tokens']} tokens, {best['train_s']} s, "
            f"text loss {best['text_loss']:.2f})",
            f"base {base['fact_accuracy']:.0%}, text loss {base['text_loss']:.2f}",
            ">= 60 %, base <= 15 %",
            best["fact_accuracy"] >= 0.6 and base["fact_accuracy"] <= 0.15,
        )


def _add_leaves(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--leaves", default="", help="comma-separated leaf folder names (default: every knowledge leaf)"
    )


def main() -> int:
    return curve_command(
        __doc__,
        POINTS,
        "base,lora-e3",
        "knowledge_curve.jsonl",
        lambda name, base, args: run_point(name, base, set(filter(None, args.leaves.split(","))), args.threads),
        table,
        _add_leaves,
    )


if __name__ == "__main__":
    sys.exit(main())
