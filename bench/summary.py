"""One line per headline figure, for bench/run_all.py to gather into bench/RESULTS.md:
`SUMMARY {"measure", "taxon", "baseline", "goal", "met"}` on stdout."""

from __future__ import annotations

import json

PREFIX = "SUMMARY "


def emit(measure: str, taxon: str, baseline: str, goal: str, met: bool | None) -> None:
    print(
        PREFIX + json.dumps({"measure": measure, "taxon": taxon, "baseline": baseline, "goal": goal, "met": met}),
        flush=True,
    )


def parse(stdout: str) -> list[dict]:
    return [json.loads(line[len(PREFIX) :]) for line in stdout.splitlines() if line.startswith(PREFIX)]
