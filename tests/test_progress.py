"""taxon.core.progress: bars on a terminal, throttled plain lines elsewhere, GitHub Actions groups."""

import io

from taxon.core.progress import console, silence_third_party_bars, stage_group, status, tracker


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_off_a_terminal_one_line_per_unit_at_most_every_interval(monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    every, throttled = io.StringIO(), io.StringIO()
    with tracker(out=every, interval_s=0) as shown:
        task = shown.task("leaf a", total=4)
        for _ in range(4):
            task.advance()
    lines = every.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == [
        "leaf a: 1/4 (25%)",
        "leaf a: 2/4 (50%)",
        "leaf a: 3/4 (75%)",
        "leaf a: 4/4 (100%)",
    ]
    assert "ETA" in lines[0] and "ETA" not in lines[-1]
    with tracker(out=throttled, interval_s=3600) as shown:
        task = shown.task("leaf b")
        task.grow(10)
        for _ in range(6):
            task.advance(1, speed="9 tok/s")
    # the first unit, then nothing within the interval, then the final state when it ends
    assert [line.split(",")[0] for line in throttled.getvalue().splitlines()] == [
        "leaf b: 1/10 (10%)",
        "leaf b: 6/10 (60%)",
    ]
    assert "speed 9 tok/s" in throttled.getvalue()


def test_quiet_prints_nothing_and_a_terminal_gets_bars(monkeypatch):
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    silent, terminal = io.StringIO(), Terminal()
    with tracker(quiet=True, out=silent) as shown:
        shown.task("x", total=2).advance(2)
    assert silent.getvalue() == ""
    with tracker(out=terminal) as shown:
        shown.task("leaf c", total=2).advance(2)
    assert "leaf c" in terminal.getvalue() and "2/2" in terminal.getvalue()


def test_github_actions_groups_each_stage_and_gets_lines(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    out = Terminal()  # even a terminal: the runner's log wants lines
    with stage_group("generate", out=out):
        with tracker(out=out, interval_s=0) as shown:
            shown.task("leaf d", total=1).advance()
    assert out.getvalue().splitlines()[0] == "::group::generate"
    assert out.getvalue().splitlines()[-1] == "::endgroup::"
    assert "leaf d: 1/1 (100%)" in out.getvalue()
    monkeypatch.delenv("GITHUB_ACTIONS")
    plain = io.StringIO()
    with stage_group("train", out=plain), status("converting", out=plain):
        pass
    assert "::group::" not in plain.getvalue() and "converting: done in" in plain.getvalue()


def test_third_party_bars_are_silenced_unless_the_user_says_otherwise(monkeypatch):
    monkeypatch.delenv("HF_HUB_DISABLE_PROGRESS_BARS", raising=False)
    silence_third_party_bars()
    import os

    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "1"
    monkeypatch.setenv("HF_HUB_DISABLE_PROGRESS_BARS", "0")
    silence_third_party_bars()
    assert os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] == "0"


def test_a_console_never_breaks_a_line_of_text_in_two(monkeypatch, capsys):
    """A finding is one line in a CI log or a file, however long, and on a terminal too (the
    terminal wraps it for the eye; copied, it is still one line). Tables fit LOG_WIDTH off a terminal."""
    from rich.table import Table
    from rich.text import Text

    finding = "taxonomy/compositional_skills/a/b/qna.yaml:1:1: error P040 " + "word " * 60
    monkeypatch.delenv("COLUMNS", raising=False)
    console(stderr=True).print(Text.assemble(("taxon pipeline: validate failed: ", "red"), f"{finding}\n{finding}"))
    lines = [line.rstrip() for line in capsys.readouterr().err.splitlines()]
    assert lines == [f"taxon pipeline: validate failed: {finding}".rstrip(), finding.rstrip()]
    table = Table("leaf", "figures")
    table.add_row("compositional_skills/" + "x" * 60, "y" * 60)
    console().print(table)
    assert max(map(len, capsys.readouterr().out.splitlines())) <= 160


def test_off_a_terminal_a_running_task_is_never_silent_and_a_growing_total_is_no_end(monkeypatch):
    """A teacher batch can run for minutes: its task's line comes again every heartbeat_s
    while nothing finishes. A total that still grows (units asked for step by step) shows
    no percent, and catching up with it is no end: one line at 100 %, when it is known."""
    import time

    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    out = io.StringIO()
    with tracker(out=out, interval_s=3600, heartbeat_s=0.05) as shown:
        units = shown.task("generate: units", open_ended=True, leaves="0/2 done")
        units.grow(4)
        units.advance(1)
        time.sleep(0.4)  # a long batch: heartbeats
        units.advance(3)  # caught up with the total asked so far: not the end
        units.grow(2)
        units.advance(2)
        units.end_known()
        units.advance(0, leaves="2/2 done")
    lines = [line.split(", elapsed")[0] for line in out.getvalue().splitlines()]
    assert lines[0] == "generate: units: 1/4 so far, leaves 0/2 done"
    assert lines.count("generate: units: 1/4 so far, leaves 0/2 done") >= 3, lines
    assert lines[-1] == "generate: units: 6/6 (100%), leaves 2/2 done"
    assert [line for line in lines if "%" in line] == [lines[-1]]
