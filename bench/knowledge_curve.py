"""Fact accuracy against training cost: the packaged SmolLM2-135M-Instruct trained on the demo
taxonomy's knowledge rows (made without a teacher: the document-derived samples and the
training seeds), then asked the held-out seed questions without their passages.

A held-out seed is a question written by a person about a fact the documents state, in
words of its own; training sees the fact (in the document's sentences) but never the
question. An answer is right when it holds the reference's key facts: its numbers (digits or
number words), and at least half of its other content words that the question does not
already give. Each point is one training run with its own settings (a point's time is
bounded by `--timeout-s`); `--points` picks them, results go to a JSONL file so points can
be run one at a time on a shared machine and tabulated with `--table`.

    python bench/knowledge_curve.py --points base,lora-e3 [--out bench/out/knowledge_curve.jsonl]
    python bench/knowledge_curve.py --table
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path

from summary import emit
from taxon.core.config import load_config
from taxon.documents import load_leaf_documents
from taxon.documents.sections import document_sections
from taxon.generate.derived import document_candidates
from taxon.generate.filters import STOPWORDS
from taxon.generate.run import leaf_job
from taxon.generate.settings import Settings
from taxon.generate.steps import sample_row
from taxon.qna.heldout import held_out_seed_indexes, words
from taxon.qna.samples import seed_samples
from taxon.qna.taxonomy import load_leaves

REPO = Path(__file__).resolve().parents[1]
EVAL_SHARE = 0.5  # of each knowledge leaf's seeds asked after training; the rest train
ANSWER_TOKENS = 48
LORA64 = {"method": "lora", "lora_rank": 64, "lora_alpha": 128}
ALL_FORMS = ["section", "sentence_topic", "sentence_continue", "seed_bare"]
# name: (train overrides, document forms)
POINTS = {
    "base": (None, ALL_FORMS),
    "lora-e3": ({**LORA64, "learning_rate": 2e-3, "epochs": 3}, ALL_FORMS),
    "lora-e6": ({**LORA64, "learning_rate": 2e-3, "epochs": 6}, ALL_FORMS),
    "lora-e10": ({**LORA64, "learning_rate": 2e-3, "epochs": 10}, ALL_FORMS),
    "lora-e6-continue": ({**LORA64, "learning_rate": 2e-3, "epochs": 6}, ["sentence_continue", "seed_bare"]),
    "full-e3": ({"method": "full", "learning_rate": 1e-4, "epochs": 3}, ALL_FORMS),
    "full-e5": ({"method": "full", "learning_rate": 1e-4, "epochs": 5}, ALL_FORMS),
    "full-e3-lr3e-4": ({"method": "full", "learning_rate": 3e-4, "epochs": 3}, ALL_FORMS),
}
_NUMBER_WORDS = {
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
    "ten": "10",
    "eleven": "11",
    "twelve": "12",
    "twenty": "20",
    "thirty": "30",
    "forty": "40",
    "fifty": "50",
    "hundred": "100",
}


def fact_tokens(text: str) -> list[str]:
    """Word tokens with thousands separators and possessives dropped, number words as digits."""
    tokens = words(re.sub(r"(?<=\d),(?=\d{3})", "", text))
    return [_NUMBER_WORDS.get(w, w).removesuffix("'s") for w in tokens]


def key_facts(question: str, reference: str) -> tuple[set[str], set[str]]:
    """(numbers, other content words) of the reference that the question does not give
    (a word counts as given when the question has one of the same first five letters)."""
    given = {w[:5] for w in fact_tokens(question)}
    facts = [w for w in fact_tokens(reference) if w[:5] not in given and w not in STOPWORDS]
    numbers = {w for w in facts if re.fullmatch(r"\d+(?:\.\d+)?", w)}
    return numbers, {w for w in facts if w not in numbers and len(w) > 2}


def fact_match(question: str, reference: str, answer: str) -> bool:
    """Right when the answer holds at least half the reference's new numbers (rounded up), or
    where it has none, at least half its new content words."""
    numbers, others = key_facts(question, reference)
    said = set(fact_tokens(answer))
    facts = numbers or others
    return not facts or len(facts & said) * 2 >= len(facts)


def knowledge_rows(config: dict) -> tuple[list[dict], list[tuple[str, str, str]], dict]:
    """Training rows (derived samples + training seeds with their passages) and the
    held-out (leaf, question, reference) items of every demo knowledge leaf."""
    settings = Settings.from_config(config)
    rows, items, counts = [], [], {}
    for leaf in (leaf for leaf in load_leaves(REPO / "taxonomy") if leaf.kind == "knowledge"):
        job = leaf_job(leaf, settings, "bench", EVAL_SHARE)
        sections = [s for d in load_leaf_documents(leaf, config) for s in document_sections(d)]
        candidates = [c for c in document_candidates(job, sections, settings.document_forms)]
        kept = [c for c in candidates if not job.held_out.too_close(c.question)]
        rows += [sample_row(job, c) for c in kept]
        held = held_out_seed_indexes(leaf, EVAL_SHARE)
        rows += [s for i, s in enumerate(seed_samples(leaf)) if i not in held]
        items += [(leaf.leaf_id, leaf.seeds[i].question, leaf.seeds[i].answer) for i in sorted(held)]
        counts[leaf.leaf_id] = {"derived": len(kept), "guarded": len(candidates) - len(kept), "held_out": len(held)}
    return rows, items, counts


def answers(model: str, questions: list[str], config: dict) -> list[str]:
    from taxon.backends import ChatRequest, make_teacher

    teacher_config = {**config, "generate": {**config["generate"], "backend": "transformers", "teacher": model}}
    teacher = make_teacher(teacher_config)
    requests = [
        ChatRequest(messages=({"role": "user", "content": q},), max_tokens=ANSWER_TOKENS, temperature=0.0)
        for q in questions
    ]
    return [completion.text for completion in teacher.chat(requests)]


def run_point(name: str, base: str) -> dict:
    overrides, forms = POINTS[name]
    config = load_config(
        "cpu",
        REPO / "taxon.toml",
        {
            "generate": {"document_forms": forms},
            # one thread: on a shared 2-core machine torch's two threads run 2-10x slower when the other core is busy
            "train": {**(overrides or {}), "checkpoint_every": 0, "resume": False, "max_steps": 0, "threads": 1},
            "teacher": {"threads": 1},
            "dataset": {"eval_share": 0.0},  # the bench holds out its own items
        },
    )
    rows, items, counts = knowledge_rows(config)
    figures = {"point": name, "forms": forms, "rows": len(rows), "items": len(items), "leaves": counts}
    model = base
    with tempfile.TemporaryDirectory() as scratch:
        if overrides is not None:
            from taxon.train.stage import train

            data = Path(scratch) / "data"
            (data / "bench").mkdir(parents=True)
            (data / "bench" / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
            started = time.perf_counter()
            result = train(data, [], base, Path(scratch) / "train", config, quiet=True)
            figures.update(
                train_s=round(time.perf_counter() - started, 1),
                steps=result.steps,
                tokens=result.tokens,
                final_loss=round(result.final_loss, 4),
                train=overrides,
            )
            model = str(result.model_dir)
        started = time.perf_counter()
        said = answers(model, [q for _, q, _ in items], config)
        figures["answer_s"] = round(time.perf_counter() - started, 1)
    right = [fact_match(q, ref, a) for (_, q, ref), a in zip(items, said)]
    figures["fact_accuracy"] = round(sum(right) / len(right), 3)
    figures["examples"] = [
        {"question": q, "reference": ref, "answer": a, "right": r}
        for (_, q, ref), a, r in list(zip(items, said, right))
    ][:6]
    return figures


def table(path: Path) -> None:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    print(f"{'point':<20}{'rows':>6}{'steps':>7}{'tokens':>9}{'train s':>9}{'loss':>8}{'facts':>8}")
    for r in rows:
        print(
            f"{r['point']:<20}{r['rows']:>6}{r.get('steps', 0):>7}{r.get('tokens', 0):>9}"
            f"{r.get('train_s', 0):>9}{r.get('final_loss', float('nan')):>8.3f}"
            f"{r['fact_accuracy']:>8.1%}  ({round(r['fact_accuracy'] * r['items'])}/{r['items']})"
        )
    best = max((r for r in rows if r["point"] != "base"), key=lambda r: r["fact_accuracy"], default=None)
    base = next((r for r in rows if r["point"] == "base"), None)
    if best and base:
        emit(
            "knowledge fact accuracy, held-out seed questions",
            f"{best['fact_accuracy']:.0%} ({best['point']}, {best['tokens']} tokens, {best['train_s']} s)",
            f"base {base['fact_accuracy']:.0%}",
            ">= 60 %, base <= 15 %",
            best["fact_accuracy"] >= 0.6 and base["fact_accuracy"] <= 0.15,
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", default="base,lora-e3", help=f"comma-separated, of: {', '.join(POINTS)}")
    parser.add_argument("--base", default="packaged:smollm2")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "knowledge_curve.jsonl")
    parser.add_argument("--table", action="store_true", help="print the table of the points run so far")
    args = parser.parse_args()
    if args.table:
        table(args.out)
        return 0
    from taxon.backends.models import resolve_model

    base = resolve_model(args.base, load_config("cpu", REPO / "taxon.toml", {}))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.points.split(","):
        if name not in POINTS:
            print(f"unknown point {name!r}; known: {', '.join(POINTS)}", file=sys.stderr)
            return 2
        figures = run_point(name, base)
        with args.out.open("a") as handle:
            handle.write(json.dumps(figures) + "\n")
        print(json.dumps({k: v for k, v in figures.items() if k != "examples"}), flush=True)
    table(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
