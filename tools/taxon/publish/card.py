"""The model card: README.md with the Hugging Face YAML metadata (license, base model and
relation, datasets, tags, model-index with the eval results) and a body for people."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from taxon.core.settings import PublishSettings
from taxon.publish.reproduce import LM_EVAL_INSTALL
from taxon.qna.layout import METRIC_LABELS, SEED_FACTS_TOTAL, SUMS_NAME

_HUB_ID = re.compile(r"^[\w.-]+/[\w.-]+$")
EVAL_DATASETS = {
    "knowledge": ("taxonomy knowledge fact questions", "taxon-knowledge"),
    SEED_FACTS_TOTAL: ("taxonomy knowledge held-out seed questions", "taxon-knowledge-seeds"),
    "skills": ("taxonomy held-out skill questions", "taxon-skills"),
    "general/probe": ("general probe questions", "taxon-probe"),
    "general/text": ("held-out general text", "taxon-general-text"),
}


def _model_index(name: str, eval_report: dict[str, Any] | None) -> list[dict[str, Any]]:
    results = []
    if eval_report:
        candidate = eval_report["candidate"]
        entries = {
            **eval_report["totals"],
            **{set_id: eval_report["sets"].get(set_id) for set_id in ("general/probe", "general/text")},
        }
        for set_id, entry in entries.items():
            if not entry or not entry.get("n"):
                continue
            dataset_name, dataset_type = EVAL_DATASETS[set_id]
            metrics = [
                {"type": metric, "name": METRIC_LABELS.get(metric, metric), "value": round(value, 4)}
                for metric, value in entry["scores"][candidate].items()
                if value is not None
            ]
            results.append(
                {
                    "task": {"type": "text-generation", "name": "Text Generation"},
                    "dataset": {"name": dataset_name, "type": dataset_type},
                    "metrics": metrics,
                }
            )
    return [{"name": name, "results": results}]


def card_base_model(manifest: dict[str, Any], settings: PublishSettings) -> str | None:
    """The trained base when it is a hub id; else (a local or packaged model) publish.base_model_id."""
    trained = manifest.get("base_model") or ""
    if _HUB_ID.match(trained) and not Path(trained).exists():
        return trained
    return settings.base_model_id or trained or None


def front_matter(
    manifest: dict[str, Any], eval_report: dict[str, Any] | None, settings: PublishSettings
) -> dict[str, Any]:
    hub_dataset = manifest["dataset"].get("hub_id")
    extra_tags = [*(["lora"] if manifest.get("adapter") else []), *(["gguf"] if manifest.get("gguf") else [])]
    return {
        "license": settings.license,
        "language": list(settings.language),
        "base_model": card_base_model(manifest, settings),
        "base_model_relation": "finetune",
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "datasets": list(dict.fromkeys([*settings.datasets, *([hub_dataset] if hub_dataset else [])])),
        "tags": list(dict.fromkeys(["taxon", *extra_tags, *settings.tags])),
        "model-index": _model_index(manifest["name"], eval_report),
    }


def _portable_evaluation(
    markdown: str, manifest: dict[str, Any], eval_report: dict[str, Any] | None, base_id: str | None
) -> str:
    """The evaluation's tables with the models named for a reader: the candidate as this model,
    the trained base by its hub id, not the folders of the machine that ran it."""
    names = {}
    if eval_report:
        names[eval_report["candidate"]] = f"this model ({manifest['name']})"
        trained_base = manifest.get("base_model")
        for baseline in eval_report.get("baselines", []):
            if base_id and trained_base and Path(baseline).name == Path(trained_base).name:
                names[baseline] = base_id
    for path in sorted(names, key=len, reverse=True):
        markdown = markdown.replace(f"`{path}`", f"`{names[path]}`")
    return markdown


def _reproduce(manifest: dict[str, Any]) -> list[str]:
    if not manifest.get("lm_eval"):
        return []
    return [
        "Every scored question, as asked and with what it was scored against, is in `eval/questions.jsonl`; "
        "the closest training question of each held-out one in `eval/heldout.jsonl`. The multiple-choice "
        "figures (acc, acc_norm; the knowledge total as the group `taxon_knowledge`) come back from this "
        f"folder with lm-evaluation-harness (`{LM_EVAL_INSTALL}`):",
        "",
        "```",
        manifest["lm_eval"]["command"],
        "```",
        "",
    ]


def _usage(manifest: dict[str, Any]) -> list[str]:
    """How to run the model: transformers, vLLM and taxon serve on the folder; llama.cpp and
    Ollama on each GGUF file, with what each file keeps of the facts."""
    where = manifest["dataset"].get("hub_model") or "path/to/this/folder"
    lines = [
        "## Running it",
        "",
        f'transformers (4.46 and later, 5.x): `AutoModelForCausalLM.from_pretrained("{where}")`; '
        f"vLLM: `vllm serve {where}`; taxon: `taxon serve {where}` (an OpenAI-compatible server).",
    ]
    files = manifest.get("gguf") or {}
    if files:
        lines += [
            "",
            "GGUF files for llama.cpp and Ollama (facts kept: of the knowledge fact questions this model answers "
            "right, the share the file still answers right, loaded back and asked in the evaluation):",
            "",
            "| File | weights | size | facts kept |",
            "|---|---|---|---|",
        ]
        for name, entry in files.items():
            kept = entry.get("fact_retention")
            figure = f"{kept:.0%}" if kept is not None else ("–" if entry.get("evaluated") else "not evaluated")
            lines.append(f"| `{name}` | {entry['weights']} | {entry['size_bytes'] / 2**20:,.0f} MiB | {figure} |")
        smallest = min(files, key=lambda name: files[name]["size_bytes"])
        lines += [
            "",
            f"llama.cpp: `llama-cli -m {smallest} -cnv` or `llama-server -m {smallest}` (any file above). "
            "Ollama: `ollama create NAME -f Modelfile && ollama run NAME` (the Modelfile names `model.gguf`; "
            "change its FROM line to run another file).",
        ]
    return [*lines, ""]


def _leaf_table(manifest: dict[str, Any]) -> list[str]:
    kept = manifest["dataset"]["leaves"]
    lines = ["| Leaf | kind | samples | content hash |", "|---|---|---|---|"]
    for leaf in manifest["leaves"]:
        count = kept.get(leaf["leaf_id"])
        lines.append(
            f"| {leaf['leaf_id']} | {leaf['kind']} | {'–' if count is None else count} | `{leaf['content_hash'][:12]}` |"
        )
    return lines


def render_card(
    manifest: dict[str, Any], eval_report: dict[str, Any] | None, eval_markdown: str | None, settings: PublishSettings
) -> str:
    front = front_matter(manifest, eval_report, settings)
    train = manifest.get("train") or {}
    taxonomy = manifest["taxonomy"]
    adapter_text = (
        f"The LoRA adapter it was merged from is in `{manifest['adapter']}/` (load it with peft on the base model)."
        if manifest.get("adapter")
        else "It was fully fine-tuned (no adapter)."
    )
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False, allow_unicode=True).rstrip(),
        "---",
        "",
        f"# {manifest['name']}",
        "",
        f"`{front['base_model']}` fine-tuned by taxon on the samples generated from a "
        "taxonomy of skills and knowledge. The weights at the top of this folder are the merged model "
        f"(safetensors). {adapter_text}",
        "",
        "## Training data",
        "",
        f"Taxonomy commit: `{taxonomy.get('commit') or 'not a git checkout'}`"
        + (" (with uncommitted changes)" if taxonomy.get("dirty") else "")
        + f"; dataset hash `{manifest['dataset']['hash'][:16]}`; teacher `{manifest.get('teacher')}`.",
        "",
        *_leaf_table(manifest),
        "",
        "The training set (the samples trained on, the held-out questions, per-leaf stats and seeds) is in "
        "[`dataset/`](dataset/README.md), a dataset `datasets.load_dataset` reads.",
        "",
        "## Training",
        "",
        f"Steps: {train.get('steps', '–')}; tokens: {train.get('tokens', '–')}; final loss: {train.get('final_loss', '–')}; "
        "seeds: " + ", ".join(f"{stage} {seed}" for stage, seed in manifest["seeds"].items()) + ".",
        "",
        *_usage(manifest),
        "## Evaluation",
        "",
        _portable_evaluation(
            re.sub(r"^## ", "### ", eval_markdown.strip(), flags=re.MULTILINE),
            manifest,
            eval_report,
            front["base_model"],
        )
        if eval_markdown
        else "This bundle was published without an evaluation.",
        "",
        *_reproduce(manifest),
        "## Files and checks",
        "",
        f"`manifest.json` lists every file with its sha256, the config, the seeds and the library versions; "
        f"`{SUMS_NAME}` covers every file (`sha256sum -c {SUMS_NAME}`). No pickle files. "
        "Check a copy with `taxon verify FOLDER`.",
        "",
        "## Limitations",
        "",
        "A small model fine-tuned on synthetic data from a teacher model: it inherits the teacher's mistakes and "
        "the base model's limits. Check answers before relying on them.",
        "",
    ]
    return "\n".join(lines)
