"""`taxon pipeline [--profile cpu|gpu] [--from STAGE] [--to STAGE]`: the main job in a run folder."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taxon.commands._options import add_config_arguments, config_from_args, taxonomy_root
from taxon.core.github import log_safe
from taxon.qna.layout import REPORT_MD, RunLayout, default_run_dir

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from taxon.pipeline import PipelineResult, StageOutcome


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from taxon.pipeline import STAGES

    parser.add_argument("--run", type=Path, help="run folder (default: runs/<profile>)")
    parser.add_argument("--from", dest="first", default=STAGES[0], choices=STAGES, help="first stage to run")
    parser.add_argument("--to", dest="last", default=STAGES[-1], choices=STAGES, help="last stage to run")
    parser.add_argument("--taxonomy", type=Path, help="taxonomy folder (default: taxonomy.root)")
    parser.add_argument(
        "--leaves",
        nargs="+",
        metavar="PATTERN",
        help="run over these leaves only: leaf ids, globs on them or folders (default: [pipeline] leaves, else all)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars (CI)")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from rich.text import Text

    from taxon.core.progress import console as make_console
    from taxon.pipeline import run_pipeline

    config = config_from_args(args, {"pipeline": {"leaves": args.leaves}} if args.leaves else None)
    run_dir = args.run or default_run_dir(Path(config.config_path), config.profile)
    console = make_console()

    def announce(outcome: StageOutcome) -> None:
        console.print(f"[bold]{outcome.name}[/bold]: {outcome.status} in {outcome.seconds:.1f} s")

    result = run_pipeline(
        taxonomy_root(args, config), run_dir, config, args.first, args.last, quiet=args.quiet, on_stage=announce
    )
    console.print(closing_table(result))
    errors = make_console(stderr=True)  # a failed validation's findings: one line each, also in a log
    for outcome in result.outcomes:
        if outcome.error:
            errors.print(Text.assemble((f"taxon pipeline: {outcome.name} failed: ", "red"), log_safe(outcome.error)))
    _print_results(console, result)
    return result.exit_code


def closing_table(result: PipelineResult) -> Table:
    from rich.table import Table

    table = Table(title=f"taxon pipeline: {result.run_dir}")
    for column in ("stage", "status", "time", "share", "figures"):
        table.add_column(column)
    ran = [outcome for outcome in result.outcomes if outcome.status != "not run"]
    total = sum(outcome.seconds for outcome in ran)
    for outcome in result.outcomes:
        style = {"failed": "red", "cached": "cyan", "done": "green"}.get(outcome.status, "dim")
        took = outcome in ran
        table.add_row(
            outcome.name,
            f"[{style}]{outcome.status}[/{style}]",
            f"{outcome.seconds:.1f} s" if took else "",
            f"{outcome.seconds / total:.0%}" if took and total > 0 else "",
            format_figures(outcome.figures),
        )
    table.add_row("total", "", f"{total:.1f} s", "100%" if total > 0 else "", "")
    return table


def format_figures(figures: dict[str, Any]) -> str:
    parts = []
    for key, value in figures.items():
        if isinstance(value, dict) and "delta" in value:
            value = f"{value['delta']:+.3f} [{value['low']:+.3f}, {value['high']:+.3f}]"
        parts.append(f"{key}={value}")
    return ", ".join(parts)


def _print_results(console: Console, result: PipelineResult) -> None:
    _print_left_out(console, RunLayout(result.run_dir).leaves_file)
    report_md = RunLayout(result.run_dir).eval_dir / REPORT_MD
    if result.outcome("evaluate").status in ("done", "cached") and report_md.is_file():
        console.print(report_md.read_text(encoding="utf-8"), markup=False, highlight=False)
    if result.outcome("publish").status in ("done", "cached"):
        bundle = RunLayout(result.run_dir).bundle_dir
        console.print(f"bundle: {bundle}  (check it: taxon verify {bundle}; talk to it: taxon chat {bundle})")


SHOWN_LEFT_OUT = 10  # leaves named on the terminal; the file lists them all


def _print_left_out(console: Console, leaves_file: Path) -> None:
    """The leaves [pipeline] leaves (--leaves) left out of the run, so a partial run says so."""
    import json

    try:
        leaves = json.loads(leaves_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if not leaves.get("patterns"):
        return
    chosen, left_out = leaves["leaves"], leaves["left_out"]
    named = ", ".join(left_out[:SHOWN_LEFT_OUT]) + (
        f" and {len(left_out) - SHOWN_LEFT_OUT} more" if len(left_out) > SHOWN_LEFT_OUT else ""
    )
    console.print(
        f"leaves: {len(chosen)} of {len(chosen) + len(left_out)} chosen by {' '.join(leaves['patterns'])}; "
        f"left out (not validated, generated, trained on or evaluated): {named or 'none'} ({leaves_file})",
        markup=False,
        highlight=False,
    )
