"""Progress and status for every stage, in one place, fit for where the output goes.

- On a terminal: rich bars (rich is imported only then, so `taxon validate` starts fast).
- Anywhere else (a CI log, `make demo > log`): one plain line per finished unit (a leaf's
  unit, a batch of answers, a training step) at most every `interval_s` seconds, and each
  task's last state when it ends, with counts, rate fields and an ETA; while nothing
  finishes, a line at least every `heartbeat_s` seconds (a long teacher batch is no silence).
- Under GitHub Actions (GITHUB_ACTIONS=true) `stage_group(name)` also folds a stage's output into
  its own `::group::` ... `::endgroup::`.
Third-party bars (transformers' "Loading weights", huggingface_hub's downloads) are silenced
by `silence_third_party_bars()`, which the command line calls before anything imports them.

Output goes to stderr, so a command's results on stdout stay clean.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TextIO

from taxon.core.github import escape_data

PLAIN_INTERVAL_S = 5.0
HEARTBEAT_S = 30.0  # off a terminal: the longest a running task goes without a line


def silence_third_party_bars() -> None:
    """transformers and huggingface_hub read this when they are imported: no tqdm bars of theirs
    interleave with ours. A user's own setting wins."""
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


def on_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


@contextmanager
def stage_group(name: str, out: TextIO | None = None) -> Iterator[None]:
    """A pipeline stage's output folded into its own group in a GitHub Actions log."""
    out = out or sys.stderr
    if not on_github_actions():
        yield
        return
    print(f"::group::{escape_data(name)}", file=out, flush=True)
    try:
        yield
    finally:
        print("::endgroup::", file=out, flush=True)


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass
class Task:
    """One counted piece of work: `advance` as units finish, `grow` when more turn up."""

    tracker: Tracker
    name: str
    total: int
    completed: int = 0
    fields: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    start_count: int = 0  # already done when the task began (a resumed run): not in its rate
    open_ended: bool = False  # the total still grows (units asked for step by step): no percent or ETA
    printed: tuple[Any, ...] | None = None
    handle: object = None  # the rich task id on a terminal

    def advance(self, count: int = 1, **fields: str) -> None:
        self.completed += count
        self.fields.update(fields)
        self.tracker._changed(self)

    def grow(self, count: int) -> None:
        self.total += count
        self.tracker._changed(self, finished_unit=False)

    def end_known(self) -> None:
        """The total will grow no more."""
        self.open_ended = False
        self.tracker._changed(self, finished_unit=False)

    def eta(self) -> float | None:
        done = self.completed - self.start_count
        if done <= 0 or self.total <= self.completed or self.open_ended:
            return None
        return (time.monotonic() - self.started) / done * (self.total - self.completed)

    def line(self) -> str:
        if self.open_ended:
            count = f"{self.completed}/{self.total} so far"
        else:
            count = f"{self.completed}/{self.total}" + (
                f" ({100 * self.completed // self.total}%)" if self.total else ""
            )
        parts = [f"{self.name}: {count}"]
        parts += [f"{key} {value}" for key, value in self.fields.items()]
        parts.append(f"elapsed {_duration(time.monotonic() - self.started)}")
        eta = self.eta()
        if eta is not None:
            parts.append(f"ETA {_duration(eta)}")
        return ", ".join(parts)


class Tracker:
    """The tasks shown together: bars on a terminal, throttled lines elsewhere, nothing when quiet."""

    def __init__(self, mode: str, out: TextIO, interval_s: float = PLAIN_INTERVAL_S, heartbeat_s: float = HEARTBEAT_S):
        self.mode = mode  # "bars" | "lines" | "quiet"
        self.out = out
        self.interval_s = interval_s
        self.heartbeat_s = heartbeat_s
        self.tasks: list[Task] = []
        self.last_line = float("-inf")
        self.started = time.monotonic()
        self.lock = threading.Lock()  # a teacher reports finished requests from its own thread
        self.bars: Any = None  # rich's Progress on a terminal (rich is imported only then)

    def task(self, name: str, total: int = 0, completed: int = 0, open_ended: bool = False, **fields: str) -> Task:
        task = Task(self, name, total, completed, dict(fields), start_count=completed, open_ended=open_ended)
        self.tasks.append(task)
        if self.bars is not None:
            task.handle = self.bars.add_task(name, total=total, completed=completed, fields=self._fields(task))
        return task

    @staticmethod
    def _fields(task: Task) -> str:
        return "  ".join(f"{key} {value}" for key, value in task.fields.items())

    def _changed(self, task: Task, finished_unit: bool = True) -> None:
        if self.bars is not None:
            self.bars.update(task.handle, total=task.total, completed=task.completed, fields=self._fields(task))
        elif self.mode == "lines" and finished_unit:
            now = time.monotonic()
            ended = task.completed == task.total and not task.open_ended
            if now - self.last_line >= self.interval_s or ended:
                self._print(task, now)

    def _print(self, task: Task, now: float, again: bool = False) -> None:
        with self.lock:
            state = (task.completed, task.total, task.open_ended)
            if task.printed == state and not again:
                return
            task.printed, self.last_line = state, now
            print(task.line(), file=self.out, flush=True)

    def heartbeat(self) -> None:
        """Off a terminal: when no line came for heartbeat_s, each running task's line again."""
        now = time.monotonic()
        if self.mode != "lines" or now - max(self.last_line, self.started) < self.heartbeat_s:
            return
        for task in self.tasks:
            if task.completed < task.total or task.open_ended:
                self._print(task, now, again=True)

    def close(self) -> None:
        if self.mode == "lines":
            for task in self.tasks:  # each task's final state, once
                self._print(task, time.monotonic())


def _mode(quiet: bool, out: TextIO) -> str:
    if quiet:
        return "quiet"
    return "bars" if out.isatty() and not on_github_actions() else "lines"


@contextmanager
def tracker(
    quiet: bool = False,
    out: TextIO | None = None,
    interval_s: float = PLAIN_INTERVAL_S,
    heartbeat_s: float = HEARTBEAT_S,
) -> Iterator[Tracker]:
    out = out or sys.stderr
    progress = Tracker(_mode(quiet, out), out, interval_s, heartbeat_s)
    if progress.mode != "bars":
        stop = threading.Event()
        beating = threading.Thread(target=_beat, args=(progress, stop), daemon=True)
        if progress.mode == "lines":
            beating.start()
        try:
            yield progress
        finally:
            stop.set()
            if beating.is_alive():
                beating.join()
            progress.close()
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[fields]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(file=out)) as progress.bars:
        yield progress


LOG_WIDTH = 160  # columns of a table printed to a CI log or a file (rich assumes 80 there)


def console(stderr: bool = False) -> Any:
    """A rich Console for a command's results (stdout) or errors (stderr). It never breaks a
    line of text (a finding, an error's list) in two, so each stays one line in a log and
    greppable; off a terminal, tables get LOG_WIDTH columns instead of rich's 80."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(file=stream, soft_wrap=True)
    return Console(file=stream, width=LOG_WIDTH, soft_wrap=True)


def _beat(progress: Tracker, stop: threading.Event) -> None:
    while not stop.wait(min(1.0, progress.heartbeat_s / 4)):
        progress.heartbeat()


@contextmanager
def status(message: str, out: TextIO | None = None) -> Iterator[None]:
    """A one-off wait (a model converted once): a spinner on a terminal, a line before and after elsewhere."""
    out = out or sys.stderr
    if _mode(False, out) == "bars":
        from rich.console import Console

        with Console(file=out).status(message):
            yield
        return
    started = time.monotonic()
    print(f"{message} ...", file=out, flush=True)
    yield
    print(f"{message}: done in {_duration(time.monotonic() - started)}", file=out, flush=True)
