"""Generation and skill correctness on real content: the current InstructLab leaves in
../shared/corpus/instructlab-taxonomy (16 files no one here wrote to fit our checkers).

    python bench/real_skills.py [--quick] [--corpus DIR] [--leaves SUBSTRING ...] [--profile cpu] [--out DIR] [--examples N]

The leaves are copied into a temporary taxonomy (the corpus itself is referenced by path, never
copied into the repository). A knowledge leaf's document lives in an external repository this
machine cannot reach, so it is vendored in-tree as CONTRIBUTING says: a document.md beside its
qna.yaml, here made of the leaf's own seed contexts (passages of that document).

Then `taxon generate` (the profile's teacher: the packaged SmolLM2-135M on cpu) and, for each
skill leaf, the base model's answers to every seed question, scored for correctness against the
seed's answer as evaluation scores a held-out seed (`taxon.evaluate.skills`: the checker's
value, the template's slots, key facts, or the likelihood judge for free-form answers). The base
never trained on any seed, so every seed is a fair reference here.

Prints per leaf: kept/generated, how the kept samples are vouched for, the drop reasons, the
base's skill correctness with n, and three scored examples with their verdicts. Figures only, no
assertions; the summary line is for bench/run_all.py.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

from summary import emit

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus" / "instructlab-taxonomy"
EXAMPLES = 3
QUICK_LEAVES = ["synonyms", "temporal_reasoning", "chickadee"]


def vendored_taxonomy(corpus: Path, root: Path, wanted: list[str]) -> Path:
    """A copy of the corpus's leaves under root/taxonomy, each knowledge leaf with its document
    in-tree (document.md, from its seed contexts)."""
    taxonomy = root / "taxonomy"
    for qna in sorted(corpus.rglob("qna.yaml")):
        relative = qna.parent.relative_to(corpus)
        if wanted and not any(part in relative.as_posix() for part in wanted):
            continue
        folder = taxonomy / relative
        folder.mkdir(parents=True, exist_ok=True)
        data = yaml.safe_load(qna.read_text(encoding="utf-8"))
        if relative.parts[0] == "knowledge":
            contexts = [example["context"].strip() for example in data.get("seed_examples", [])]
            title = relative.name.replace("_", " ")
            (folder / "document.md").write_text(f"# {title}\n\n" + "\n\n".join(contexts) + "\n", encoding="utf-8")
            data["document"] = {"patterns": ["document.md"]}
        (folder / "qna.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
        attribution = qna.parent / "attribution.txt"
        if attribution.is_file():
            shutil.copy(attribution, folder / "attribution.txt")
    return taxonomy


def _short(text: str, limit: int = 110) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--leaves", nargs="*", default=[], help="only leaves whose path holds one of these")
    parser.add_argument("--profile", default="cpu")
    parser.add_argument("--out", type=Path, default=None, help="keep the run here (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="three leaves only")
    parser.add_argument("--examples", type=int, default=EXAMPLES, help="scored examples shown a leaf (0: all)")
    args = parser.parse_args()
    if args.quick and not args.leaves:
        args.leaves = QUICK_LEAVES
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus} (pass --corpus)", file=sys.stderr)
        return 2

    from taxon.backends.models import resolve_model
    from taxon.core.config import load_config
    from taxon.evaluate.answers import cached_outputs
    from taxon.evaluate.sets import skill_eval_set
    from taxon.evaluate.stage import _model_inputs, answers_by_set, run_judge, score_outputs
    from taxon.generate.run import LeavesFailed, generate_leaves
    from taxon.qna.taxonomy import load_leaves

    root = args.out or Path(tempfile.mkdtemp(prefix="taxon-real-skills-"))
    root.mkdir(parents=True, exist_ok=True)
    taxonomy = vendored_taxonomy(args.corpus, root, args.leaves)
    config = load_config(
        args.profile,
        REPO / "taxon.toml",
        {"generate": {"cache_dir": str(root / "cache")}, "taxonomy": {"root": str(taxonomy)}},
    )
    leaves = load_leaves(taxonomy)
    start = time.perf_counter()
    try:
        result = generate_leaves(leaves, root / "generate", config, quiet=True)
        stats = result.leaves
    except LeavesFailed as failed:
        stats = failed.result.leaves
    generate_seconds = time.perf_counter() - start

    skills = [leaf for leaf in sorted(leaves, key=lambda leaf: leaf.leaf_id) if leaf.kind != "knowledge"]
    settings = config.evaluate
    eval_sets = [skill_eval_set(leaf, root / "generate", 1.0, 0, settings) for leaf in skills]  # every seed a reference
    conversations, limits, _ = _model_inputs(eval_sets, settings.max_new_tokens)
    base = resolve_model(config.models.base, config.models)
    start = time.perf_counter()
    outputs = cached_outputs(root / "answers", base, conversations, [], settings, lambda n: None, limits)
    judged = run_judge(eval_sets, [answers_by_set(eval_sets, outputs)], config, root / "answers", True)
    scores, answered, verdicts = score_outputs(eval_sets, outputs, judged)
    evaluate_seconds = time.perf_counter() - start

    print(f"real InstructLab leaves: {args.corpus}")
    print(f"teacher and base: {config.generate.teacher} ({args.profile} profile); generate {generate_seconds:.0f} s, ")
    print(f"the base's answers and the judge {evaluate_seconds:.0f} s\n")
    kept_total = generated_total = right_total = scored_total = 0
    for leaf in sorted(leaves, key=lambda leaf: leaf.leaf_id):
        leaf_stats = stats.get(leaf.leaf_id, {})
        kept, generated = leaf_stats.get("kept", 0), leaf_stats.get("generated", 0)
        kept_total, generated_total = kept_total + kept, generated_total + generated
        print(f"== {leaf.leaf_id} ({leaf.kind}, {len(leaf.seeds)} seeds)")
        if "error" in leaf_stats:
            print(f"   generate: {leaf_stats['error']}")
        print(f"   kept {kept}/{generated}; kept as: {leaf_stats.get('kept_how', {})}")
        print(f"   dropped: {leaf_stats.get('dropped', {})}")
        eval_set = next((s for s in eval_sets if s.set_id == leaf.leaf_id), None)
        if eval_set is None:
            continue
        right = scores[eval_set.set_id]["skill_accuracy"]
        right_total, scored_total = right_total + sum(right), scored_total + len(right)
        methods = eval_set.describe().get("methods", {})
        share = f"{sum(right) / len(right):.0%}" if right else "–"
        print(f"   base skill correctness {share} ({int(sum(right))}/{len(right)}; scored by {methods})")
        shown = [(i, v) for i, v in enumerate(verdicts[eval_set.set_id]) if v is not None][: args.examples or None]
        for index, verdict in shown:
            item = eval_set.items[index]
            print(f"     {'✓' if verdict.right else '✗'} Q: {_short(item.question)}")
            print(f"       reference: {_short(item.reference)}")
            print(f"       base:      {_short(answered[eval_set.set_id][index])}")
            print(f"       why:       {_short(verdict.why)}")
    share = right_total / scored_total if scored_total else 0.0
    print(
        f"\nkept {kept_total}/{generated_total} samples; base skill correctness {share:.0%} ({int(right_total)}/{scored_total})"
    )
    emit(
        "real InstructLab leaves: samples kept, base skill correctness (every seed a reference)",
        f"kept {kept_total}/{generated_total}, base correct {share:.0%} of {scored_total}",
        "a hand check of the verdicts above",
        "figures only",
        None,
    )
    if args.out is None:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
