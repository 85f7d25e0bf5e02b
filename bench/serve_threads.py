"""taxon serve's torch threads on a busy machine: one 48-token greedy chat request to
`taxon serve packaged:smollm2`, idle and with another process keeping every core busy, for
each setting THREADS:WAIT — THREADS for --threads (0 is torch's default, a thread a core),
WAIT for OpenMP's wait policy: `passive` (taxon's default: waiting threads sleep) or `spin`
(OpenMP's own default, before: waiting threads spin for a while first).

    python bench/serve_threads.py [--settings 0:spin 1:spin 0:passive] [--repeats 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

from summary import emit

REPO = Path(__file__).resolve().parents[1]
QUESTION = [{"role": "user", "content": "Explain in detail how birds migrate across continents."}]


def spin() -> None:
    while True:
        pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def seconds_per_request(threads: int, wait: str, repeats: int, busy: bool) -> list[float]:
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY")}
    # an empty value is no policy to OpenMP (its own default), and keeps taxon's default off
    env["OMP_WAIT_POLICY"] = "PASSIVE" if wait == "passive" else ""
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "taxon",
            "serve",
            "packaged:smollm2",
            "--port",
            str(port),
            "--threads",
            str(threads),
            "--quiet",
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    hogs = []
    try:
        for _ in range(600):
            try:
                httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.5)
        body = {"messages": QUESTION, "max_tokens": 48, "temperature": 0}
        httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body | {"max_tokens": 4}, timeout=600)
        if busy:
            hogs = [multiprocessing.Process(target=spin, daemon=True) for _ in range(os.cpu_count() or 2)]
            for hog in hogs:
                hog.start()
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            reply = httpx.post(f"http://127.0.0.1:{port}/v1/chat/completions", json=body, timeout=600)
            reply.raise_for_status()
            times.append(time.perf_counter() - started)
        return times
    finally:
        for hog in hogs:
            hog.terminate()
        server.terminate()
        server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--settings", nargs="+", default=["0:spin", "1:spin", "0:passive"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    results = {}
    for setting in args.settings:
        threads, wait = setting.split(":")
        for busy in (False, True):
            times = seconds_per_request(int(threads), wait, args.repeats, busy)
            results[setting, busy] = statistics.median(times)
            shown = ", ".join(f"{t:.1f}" for t in times)
            state = "busy" if busy else "idle"
            print(
                f"--threads {threads}, wait {wait}, {state}: {shown} s (median {results[setting, busy]:.1f} s)",
                flush=True,
            )
    if ("0:passive", True) in results and ("0:spin", True) in results:
        emit(
            "serve: a 48-token answer on a busy machine, default threads (passive wait) vs before (spinning)",
            f"{results['0:passive', True]:.1f} s",
            f"{results['0:spin', True]:.1f} s",
            "within 2x of --threads 1",
            results["0:passive", True] <= 2 * results.get(("1:spin", True), float("inf")),
        )


if __name__ == "__main__":
    main()
