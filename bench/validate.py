"""How fast `taxon validate` is: one file with interpreter start, a large tree against a bare
libyaml load of the same tree (the ratio the [real-taxonomy] goal of 2.5x is about), and per file
side by side with the peer's validator (instructlab-schema's TaxonomyParser, installed from
PyPI into a venv under bench/out/) on the 16 real InstructLab files.

    python bench/validate.py [--quick] [--files N] [--no-peer]

Figures only, no assertions. The baseline measured in the same run is a bare interpreter
start (`python -c pass`) and, where it can be installed, the peer.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from summary import emit

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TAXON_SHARED") or REPO.parent / "shared")  # as tests/support/paths.py
CORPUS = SHARED / "corpus" / "instructlab-taxonomy"
CORPUS_2024 = SHARED / "corpus" / "instructlab-taxonomy-2024-08"
KINDS = ("knowledge", "compositional_skills", "foundational_skills")
PEER_VENV = REPO / "bench" / "out" / "peer-venv"
PEER_PACKAGE = "instructlab-schema"

PEER_SCRIPT = """
import json, sys, time
from instructlab.schema.taxonomy import TaxonomyParser
parser = TaxonomyParser(schema_version=0, message_format="standard")
times = {}
for path in sys.argv[1:]:
    start = time.perf_counter()
    taxonomy = parser.parse(path)
    times[path] = [(time.perf_counter() - start) * 1000, taxonomy.errors, taxonomy.warnings]
print(json.dumps(times))
"""


# The floor under any validator: walk the tree, read each qna.yaml, parse it with libyaml (C).
BARE_LOAD = """
import os, sys, yaml
for folder, _, names in os.walk(sys.argv[1]):
    for name in names:
        if name == "qna.yaml":
            with open(os.path.join(folder, name), encoding="utf-8") as handle:
                yaml.load(handle.read(), Loader=yaml.CSafeLoader)
"""


def seconds(command: list[str], runs: int) -> tuple[float, float]:
    """Median wall time and CPU time (user + system, its child processes included) of a
    command, its output discarded. On a busy machine the CPU time is the steadier figure."""
    return side_by_side([command], runs)[0]


def side_by_side(commands: list[list[str]], runs: int) -> list[tuple[float, float]]:
    """`seconds` of each command, the commands run in turn: a ratio between them holds when
    the machine's speed drifts (a shared VM's does by a tenth within minutes)."""
    walls: list[list[float]] = [[] for _ in commands]
    cpus: list[list[float]] = [[] for _ in commands]
    for _ in range(runs):
        for index, command in enumerate(commands):
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            walls[index].append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[index].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return [(statistics.median(wall), statistics.median(cpu)) for wall, cpu in zip(walls, cpus)]


def leaf_folders() -> list[Path]:
    sources = [REPO / "taxonomy", CORPUS, CORPUS_2024]
    return [qna.parent for source in sources if source.is_dir() for qna in sorted(source.rglob("qna.yaml"))]


def build_tree(root: Path, count: int) -> int:
    """`count` leaves: copies of the seed taxonomy and the corpus leaves (their own files only)."""
    leaves = leaf_folders()
    made = 0
    while made < count:
        for leaf in leaves:
            if made == count:
                break
            parts = leaf.parts
            kind_at = max(i for i, part in enumerate(parts) if part in KINDS)
            target = root / parts[kind_at] / f"copy_{made:04d}" / Path(*parts[kind_at + 1 :])
            target.mkdir(parents=True, exist_ok=True)
            for item in leaf.iterdir():
                if item.is_file():
                    shutil.copyfile(item, target / item.name)
            made += 1
    return made


def ensure_peer() -> Path | None:
    """Python of a venv with the peer's validator, or None when it can't be installed."""
    python = PEER_VENV / "bin" / "python"
    if not python.exists():
        print(f"installing {PEER_PACKAGE} into {PEER_VENV} ...", flush=True)
        made = subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], capture_output=True, check=False)
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", PEER_PACKAGE]
        if made.returncode or subprocess.run(pip, capture_output=True, check=False).returncode:
            shutil.rmtree(PEER_VENV, ignore_errors=True)
            return None
    return python


def peer_times(files: list[Path]) -> dict[str, list] | None:
    python = ensure_peer()
    if python is None:
        return None
    env = {**os.environ, "PATH": f"{python.parent}{os.pathsep}{os.environ.get('PATH', '')}"}  # its yamllint
    done = subprocess.run(
        [str(python), "-c", PEER_SCRIPT, *map(str, files)], capture_output=True, text=True, env=env, check=False
    )
    return json.loads(done.stdout) if done.returncode == 0 else None


def our_times(files: list[Path]) -> dict[str, list]:
    from taxon.validate.engine import Target, check_file

    check_file(Target(files[0], str(files[0])))  # warm: schemas loaded once per process
    times = {}
    for path in files:
        start = time.perf_counter()
        report = check_file(Target(path, str(path))).report
        times[str(path)] = [(time.perf_counter() - start) * 1000, report.count("error"), report.count("warning")]
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs")
    parser.add_argument("--files", type=int, help="files in the large tree (default 2000)")
    parser.add_argument("--no-peer", action="store_true", help="skip the instructlab-schema comparison")
    args = parser.parse_args()
    runs = 3 if args.quick else 5
    count = args.files or 2000
    taxon = [sys.executable, "-m", "taxon", "validate", "--quiet"]
    one_file = next((REPO / "taxonomy").rglob("qna.yaml"))

    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    # The package compiled first, as an install from a wheel is and PyYAML's files are: an
    # editable checkout under PYTHONDONTWRITEBYTECODE (this sandbox's) compiles every changed
    # module again in each process, 40 ms of a one-file validate.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "tools" / "taxon")], check=False)
    bare, bare_cpu = seconds([sys.executable, "-c", "pass"], runs)
    one, one_cpu = seconds([*taxon, str(one_file)], runs)
    print(
        f"one file, interpreter start included: {one * 1000:7.0f} ms wall, {one_cpu * 1000:.0f} ms CPU"
        f"   (bare interpreter start: {bare * 1000:.0f} ms wall, {bare_cpu * 1000:.0f} ms CPU; goal < 300 ms)"
    )
    emit(
        "validate one file, interpreter start included",
        f"{one * 1000:.0f} ms",
        f"bare interpreter {bare * 1000:.0f} ms",
        "< 300 ms",
        one < 0.3,
    )

    with tempfile.TemporaryDirectory(prefix="taxon-bench-") as tmp:
        made = build_tree(Path(tmp) / "taxonomy", count)
        tree_command = [*taxon, "--format", "json", str(Path(tmp) / "taxonomy")]
        load_command = [sys.executable, "-c", BARE_LOAD, str(Path(tmp) / "taxonomy")]
        (tree, tree_cpu), (load, load_cpu) = side_by_side([tree_command, load_command], runs)
        serial, serial_cpu = seconds([*tree_command, "--set", "validate.parallel_from=1000000"], 1)
        files = sum(1 for _ in Path(tmp).rglob("*") if _.is_file())
        print(
            f"tree of {made} leaves, {files} files (JSON out): {tree:5.2f} s wall, {tree_cpu:.2f} s CPU in all   "
            f"(one process: {serial:.2f} s wall, {serial_cpu:.2f} s CPU; {serial_cpu / made * 1000:.2f} ms CPU a file; goal < 3 s)"
        )
        print(
            f"a bare libyaml load of the same qna.yaml files (walk, read, CSafeLoader, interpreter start included): "
            f"{load:.2f} s wall, {load_cpu:.2f} s CPU; taxon validate takes {tree / load:.1f}x its wall time "
            f"({serial / load:.1f}x in one process, {serial_cpu / load_cpu:.1f}x its CPU time; goal <= 2.5x)"
        )
        emit(
            f"validate a tree of {made} files",
            f"{tree:.2f} s",
            f"one process {serial:.2f} s",
            "< 3 s (2,000 files)",
            tree < 3 if made >= 2000 else None,
        )
        emit(
            f"validate a tree of {made} files against a bare libyaml load of it",
            f"{tree / load:.1f}x ({tree:.2f} s)",
            f"libyaml {load:.2f} s",
            "<= 2.5x",
            tree / load <= 2.5,
        )

    files = sorted(CORPUS.rglob("qna.yaml")) if CORPUS.is_dir() else []
    if not files:
        print(f"corpus not found at {CORPUS}: no per-file comparison")
        return
    ours = our_times(files)
    peer = None if args.no_peer else peer_times(files)
    print(f"\nper file on the {len(files)} InstructLab files (in-process, ms; errors/warnings as each counts them)")
    print(f"{'file':<72} {'taxon':>8} {PEER_PACKAGE:>20}")
    for path in files:
        mine = ours[str(path)]
        theirs = peer.get(str(path)) if peer else None
        peer_text = f"{theirs[0]:8.1f} ({theirs[1]}e/{theirs[2]}w)" if theirs else "n/a"
        print(f"{path.relative_to(CORPUS)!s:<72} {mine[0]:8.2f} {peer_text:>20}   ours: {mine[1]}e/{mine[2]}w")
    total = sum(value[0] for value in ours.values())
    skipped = "skipped (--no-peer)" if args.no_peer else "n/a (not installable here)"
    peer_total = f"{sum(value[0] for value in peer.values()):.0f} ms" if peer else skipped
    print(f"{'total':<72} {total:8.1f}   peer: {peer_total}")
    emit(
        f"validate the {len(files)} InstructLab files, in-process",
        f"{total:.0f} ms",
        f"{PEER_PACKAGE}: {peer_total}",
        "faster than the peer",
        total < sum(value[0] for value in peer.values()) if peer else None,
    )


if __name__ == "__main__":
    main()
