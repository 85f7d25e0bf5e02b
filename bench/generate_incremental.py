"""Incremental regeneration: in a 100-leaf taxonomy, regenerating after one leaf changed
against the full run, both measured here (goal: at most 1/50 of the full run).

The teacher is in-process and scripted, with a fixed latency per request (a completion or a
scored answer), as a teacher whose cost grows with the work asked of it. Both runs include
loading the leaves; the rerun also shows a rerun with nothing changed.

    python bench/generate_incremental.py [--quick] [--leaves N] [--latency-ms L]
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tempfile
import time
from pathlib import Path

import yaml

from summary import emit
from taxon.backends.base import Completion
from taxon.core.config import load_config
from taxon.core.settings import Config
from taxon.generate.run import generate_leaves
from taxon.qna.taxonomy import load_leaves

REPO = Path(__file__).resolve().parents[1]
TOPICS = ["birds", "trees", "rivers", "stars", "bread", "music", "chess", "tides", "bees", "glass"]


class LatencyTeacher:
    """Numbered lists for list prompts, distinct answers otherwise; `latency_s` per item."""

    name = "bench:latency"
    supports_loglikelihood = True

    def __init__(self, latency_s: float):
        self.latency_s = latency_s
        self.requests = 0

    def _words(self, text: str, count: int) -> str:
        digest = hashlib.sha256(text.encode()).hexdigest()
        return " ".join(f"w{digest[i : i + 3]}" for i in range(0, 3 * count, 3))

    def chat(self, requests, progress=None):
        self.requests += len(requests)
        time.sleep(self.latency_s * len(requests))
        replies = []
        for request in requests:
            prompt = request.messages[-1]["content"]
            count = re.search(r"Write (\d+) new", prompt)
            if count:
                example = prompt.split("Here is an example task:", 1)[-1].split("\n\nWrite", 1)[0].strip()
                items = [f"{example} Consider {self._words(prompt + str(i), 2)}?" for i in range(int(count.group(1)))]
                replies.append(Completion("\n".join(f"{i + 1}. {q}" for i, q in enumerate(items)), "stop"))
            else:
                replies.append(Completion(f"It is {self._words(prompt, 6)}.", "stop"))
        return replies

    def answer_loglikelihood(self, items):
        self.requests += len(items)
        time.sleep(self.latency_s * len(items))
        return [-1.0] * len(items)


def write_taxonomy(root: Path, leaves: int) -> None:
    for index in range(leaves):
        topic = TOPICS[index % len(TOPICS)]
        seeds = [
            {
                "question": f"Question {n} about {topic} number {index}: what is special about {topic}?",
                "answer": f"Answer {n}: {topic} {index} are special in way {n}.",
            }
            for n in range(5)
        ]
        path = root / "compositional_skills" / f"group{index // 10}" / f"leaf{index:03d}" / "qna.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            yaml.safe_dump(
                {
                    "version": 3,
                    "created_by": "bench",
                    "task_description": f"Facts about {topic}",
                    "seed_examples": seeds,
                }
            )
        )


def timed_run(root: Path, out: Path, config: Config, latency_s: float) -> tuple[float, int]:
    teacher = LatencyTeacher(latency_s)
    start = time.perf_counter()
    generate_leaves(load_leaves(root), out, config, teacher, quiet=True)
    return time.perf_counter() - start, teacher.requests


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="two questions per seed instead of five")
    parser.add_argument("--leaves", type=int, default=100)
    parser.add_argument("--latency-ms", type=float, default=5.0, help="per request")
    args = parser.parse_args(argv)
    latency_s = args.latency_ms / 1000
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        write_taxonomy(tmp / "taxonomy", args.leaves)
        config = load_config(
            "cpu",
            REPO / "taxon.toml",
            {
                "generate": {
                    "cache_dir": str(tmp / "cache"),
                    "questions_per_seed": 2 if args.quick else 5,
                }
            },
        )
        full, full_requests = timed_run(tmp / "taxonomy", tmp / "out", config, latency_s)
        unchanged, unchanged_requests = timed_run(tmp / "taxonomy", tmp / "out", config, latency_s)
        middle = args.leaves // 2
        changed = tmp / f"taxonomy/compositional_skills/group{middle // 10}/leaf{middle:03d}/qna.yaml"
        changed.write_text(changed.read_text().replace("what is special", "what is remarkable"))
        one, one_requests = timed_run(tmp / "taxonomy", tmp / "out", config, latency_s)

    ratio = one / full
    print(f"generate: {args.leaves} leaves, teacher latency {latency_s * 1000:g} ms per request")
    print(f"{'run':<28}{'seconds':>10}{'requests':>10}{'vs full':>10}")
    print(f"{'full run':<28}{full:>10.2f}{full_requests:>10}{1:>10.3f}")
    print(f"{'rerun, nothing changed':<28}{unchanged:>10.2f}{unchanged_requests:>10}{unchanged / full:>10.3f}")
    print(f"{'rerun, one leaf changed':<28}{one:>10.2f}{one_requests:>10}{ratio:>10.3f}")
    goal = 1 / 50
    print(
        f"one-leaf regeneration is 1/{1 / ratio:.0f} of the full run (goal 1/50): {'PASS' if ratio <= goal else 'FAIL'}"
    )
    emit(
        f"regenerate after one of {args.leaves} leaves changed",
        f"{one:.2f} s ({one_requests} requests)",
        f"full run {full:.2f} s ({full_requests} requests)",
        "<= 1/50 of the full run",
        ratio <= goal,
    )
    return 0 if ratio <= goal else 1


if __name__ == "__main__":
    sys.exit(main())
