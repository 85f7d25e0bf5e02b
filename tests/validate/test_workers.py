"""taxon.validate.workers: work across forked processes, begun while the names are still fed."""

from __future__ import annotations

import os
import time

import pytest

from taxon.validate import workers
from taxon.validate.workers import ForkedMap

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="forks")


def shout(name: str) -> tuple[str, int]:
    return name.upper(), os.getpid()


def names(count: int) -> list[str]:
    return [f"taxonomy/leaf_{number:04d}/qna.yaml" for number in range(count)]


def test_every_name_is_done_once_by_some_process_and_meanwhile_runs_here():
    parent = os.getpid()

    def shout_slowly_here(name: str) -> tuple[str, int]:
        if os.getpid() == parent:
            time.sleep(0.002)  # so that children surely take some, however busy the machine
        return shout(name)

    pool = ForkedMap(shout_slowly_here, workers=3, start_from=10)
    fed = names(500)
    for start in range(0, len(fed), 7):  # as a walk finds them
        pool.feed(fed[start : start + 7])
    done, extra = pool.finish(lambda: os.getpid())
    assert extra == os.getpid()
    assert {name: result[0] for name, result in done.items()} == {name: name.upper() for name in fed}
    assert {pid for _, pid in done.values()} - {parent}  # children did some of it


def test_below_start_from_nothing_forks_and_the_caller_does_it_all():
    pool = ForkedMap(shout, workers=3, start_from=100)
    pool.feed(names(99))
    done, extra = pool.finish(lambda: "meanwhile")
    assert done == {} and extra == "meanwhile"


def test_a_full_queue_makes_this_process_work_instead_of_waiting(monkeypatch):
    monkeypatch.setattr(workers, "_PIPE_BYTES", 4096)  # one record: every second one waits
    parent = os.getpid()

    def shout_slowly_there(name: str) -> tuple[str, int]:
        if os.getpid() != parent:
            time.sleep(0.001)  # the child keeps the queue full
        return shout(name)

    pool = ForkedMap(shout_slowly_there, workers=2, start_from=1)
    pool.feed(names(800))  # all at once, far more than the queue holds
    done, _ = pool.finish(lambda: None)
    assert len(done) == 800 and os.getpid() in {pid for _, pid in done.values()}


def test_a_child_that_dies_costs_its_records_not_the_others():
    parent = os.getpid()

    def dies_in_a_child(name: str) -> str:
        if os.getpid() != parent:
            os._exit(1)
        return name

    pool = ForkedMap(dies_in_a_child, workers=3, start_from=1)
    pool.feed(names(300))
    done, _ = pool.finish(lambda: None)
    assert set(done) <= set(names(300)) and all(done[name] == name for name in done)  # the rest: the caller's


def test_a_name_too_long_for_a_record_is_left_to_the_caller():
    long_name = "x" * 5000
    pool = ForkedMap(shout, workers=2, start_from=1)
    pool.feed([long_name, *names(40)])
    done, _ = pool.finish(lambda: None)
    assert long_name not in done and set(done) == set(names(40))


def test_a_fork_refused_leaves_the_work_to_this_process(monkeypatch):
    def refused() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")  # fork at the process limit

    monkeypatch.setattr(os, "fork", refused)
    pool = ForkedMap(shout, workers=3, start_from=1)
    pool.feed(names(100))
    done, _ = pool.finish(lambda: None)
    assert set(done) == set(names(100)) and {pid for _, pid in done.values()} == {os.getpid()}
