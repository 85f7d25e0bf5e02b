"""What the training curves share (bench/knowledge_curve.py, bench/skill_curve.py): a model's
greedy answers, and the command line that runs named points, a training run each, into a JSONL
file and tabulates the points run so far."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from taxon.core.config import load_config
from taxon.core.settings import Config

REPO = Path(__file__).resolve().parents[1]


def chat_model(model: str, config: Config) -> Any:
    """The model behind taxon's transformers backend, as evaluation asks it."""
    from taxon.backends import make_teacher

    return make_teacher(config.with_overrides({"generate": {"backend": "transformers", "teacher": model}}))


def greedy_answers(teacher: Any, questions: list[str], max_tokens: int) -> list[str]:
    from taxon.backends import ChatRequest

    requests = [
        ChatRequest(messages=({"role": "user", "content": q},), max_tokens=max_tokens, temperature=0.0)
        for q in questions
    ]
    return [completion.text for completion in teacher.chat(requests)]


def curve_command(
    doc: str,
    points: Collection[str],
    default_points: str,
    out_name: str,
    run_point: Callable[[str, str, argparse.Namespace], dict[str, Any]],
    table: Callable[[Path], None],
    add_arguments: Callable[[argparse.ArgumentParser], None] = lambda parser: None,
) -> int:
    """Parse the curve's command line; with --table print the table, else run each point (its
    figures appended to the JSONL file as it finishes) and print the table."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--points", default=default_points, help=f"comma-separated, of: {', '.join(points)}")
    parser.add_argument("--base", default="packaged:smollm2")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (0: all cores; 1 on a machine others share)"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / out_name)
    parser.add_argument("--table", action="store_true", help="print the table of the points run so far")
    add_arguments(parser)
    args = parser.parse_args()
    if args.table:
        table(args.out)
        return 0
    from taxon.backends.models import resolve_model

    base = resolve_model(args.base, load_config("cpu", REPO / "taxon.toml", {}).models)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    for name in args.points.split(","):
        if name not in points:
            print(f"unknown point {name!r}; known: {', '.join(points)}", file=sys.stderr)
            return 2
        figures = run_point(name, base, args)
        with args.out.open("a") as handle:
            handle.write(json.dumps(figures) + "\n")
        print(json.dumps({k: v for k, v in figures.items() if k != "examples"}), flush=True)
    table(args.out)
    return 0
