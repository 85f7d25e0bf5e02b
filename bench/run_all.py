"""Every benchmark in one run, side by side with its baseline, into bench/RESULTS.md.

    python bench/run_all.py [--quick] [--no-demo]

Runs bench/validate.py (against instructlab-schema in a temp venv), bench/teachers.py
(throughput against the ideal C/L, batched against one sequence), bench/train.py (against a
plain Hugging Face Trainer), bench/generate_incremental.py, bench/real_skills.py (generation and
the base's skill correctness on the real InstructLab leaves), and the demo (`taxon pipeline
--profile cpu` from empty generation and training caches), then writes a table of the
headline figures with the machine and the date, followed by each bench's full output.
Each bench's output is kept in bench/out/, so `--only NAME` reruns one and rebuilds the page.
The curves (bench/knowledge_curve.py, an hour of training on 2 cores, and bench/skill_curve.py)
are run on their own; their points so far (bench/out/<name>.jsonl) are tabulated here.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from summary import emit, parse

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BENCHES = ("validate", "teachers", "train", "generate_incremental", "real_skills")
OUTPUTS = BENCH / "out" / "results"  # <name>.json: {"output", "seconds", "code"} of its last run
CURVES = ("knowledge_curve", "skill_curve")


def run_bench(name: str, quick: bool, extra: list[str] | None = None) -> tuple[str, float, int]:
    command = [sys.executable, str(BENCH / f"{name}.py"), *(["--quick"] if quick else []), *(extra or [])]
    print(f"== {' '.join(command[1:])}", flush=True)
    start = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    output = done.stdout + (f"\n[stderr]\n{done.stderr[-3000:]}" if done.returncode else "")
    print(done.stdout, flush=True)
    return output, seconds, done.returncode


def run_demo() -> tuple[str, float, int]:
    """The demo as `make demo` runs it, but in a fresh run folder with empty stage caches
    (the prepared packaged model is kept: preparing it is part of `make install`'s cost)."""
    print("== demo: taxon pipeline --profile cpu (fresh run folder and caches)", flush=True)
    with tempfile.TemporaryDirectory(prefix="taxon-demo-") as tmp:
        command = [
            str(Path(sys.executable).parent / "taxon"),
            "pipeline",
            "--profile",
            "cpu",
            "--quiet",
            "--run",
            f"{tmp}/run",
            "--set",
            f'generate.cache_dir="{tmp}/generate-cache"',
            "--set",
            f'documents.cache_dir="{tmp}/documents-cache"',
        ]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - start
    print(done.stdout[-4000:], flush=True)
    emit(
        "demo wall time (make demo, 2 cores, CPU)",
        f"{seconds / 60:.1f} min",
        "goal 10 min, at most 15",
        "<= 15 min",
        seconds <= 15 * 60 and done.returncode == 0,
    )
    return done.stdout + done.stderr[-3000:], seconds, done.returncode


def machine() -> str:
    cpu = (
        next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            platform.processor(),
        )
        if Path("/proc/cpuinfo").exists()
        else ""
    )
    import torch

    return (
        f"{platform.node()}: {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
        f"torch {torch.__version__}, {platform.platform()}"
    )


def keep(name: str, section: tuple[str, float, int]) -> None:
    OUTPUTS.mkdir(parents=True, exist_ok=True)
    output, seconds, code = section
    (OUTPUTS / f"{name}.json").write_text(json.dumps({"output": output, "seconds": seconds, "code": code}))


def kept_sections() -> dict[str, tuple[str, float, int]]:
    sections = {}
    for name in (*BENCHES, "demo", "knowledge_curve"):
        path = OUTPUTS / f"{name}.json"
        if path.is_file():
            data = json.loads(path.read_text())
            sections[name] = (data["output"], data["seconds"], data["code"])
    return sections


def write_results(sections: dict[str, tuple[str, float, int]], quick: bool) -> Path:
    rows = [row for output, _, _ in sections.values() for row in parse(output)]
    lines = [
        "# Benchmark results",
        "",
        f"Written by `bench/run_all.py{' --quick' if quick else ''}` on "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {machine()}.",
        "",
        "| measure | taxon | baseline (same run) | goal | met |",
        "| --- | --- | --- | --- | --- |",
        *(
            f"| {r['measure']} | {r['taxon']} | {r['baseline']} | {r['goal']} | "
            f"{ {True: 'yes', False: 'no', None: 'n/a'}[r['met']] } |"
            for r in rows
        ),
        "",
    ]
    for name, (output, seconds, code) in sections.items():
        body = "\n".join(line for line in output.splitlines() if not line.startswith("SUMMARY "))
        lines += [f"## {name} ({seconds:.0f} s, exit {code})", "", "```", body.strip(), "```", ""]
    path = BENCH / "RESULTS.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="each bench in its quick mode")
    parser.add_argument("--no-demo", action="store_true", help="skip the demo's wall time")
    parser.add_argument("--only", nargs="+", choices=BENCHES, help="run only these benches")
    args = parser.parse_args()
    for name in args.only or BENCHES:
        keep(name, run_bench(name, args.quick))
    if not args.no_demo:
        import io
        from contextlib import redirect_stdout

        captured = io.StringIO()
        with redirect_stdout(captured):
            output, seconds, code = run_demo()
        print(captured.getvalue(), end="")
        keep("demo", (captured.getvalue() + output, seconds, code))
    for curve in CURVES:
        if (BENCH / "out" / f"{curve}.jsonl").is_file():
            keep(curve, run_bench(curve, quick=False, extra=["--table"]))
    sections = kept_sections()
    path = write_results(sections, args.quick)
    print(f"wrote {path}")
    return 0 if all(code == 0 for _, _, code in sections.values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
