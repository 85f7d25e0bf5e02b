"""`taxon gitops SUBCOMMAND`: the steps of the GitHub workflows. Each reads the variables a
runner sets (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_BASE_REF, GITHUB_OUTPUT,
GITHUB_STEP_SUMMARY, GITHUB_REPOSITORY) and calls one function of `taxon.gitops`."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from taxon.core.config import load_config
from taxon.core.errors import EXIT_FAILED, EXIT_OK, TaxonError, UsageError
from taxon.core.github import annotation
from taxon.gitops import actions, authorize, comment, export
from taxon.gitops import changes as pr_changes


def add_arguments(parser) -> None:
    sub = parser.add_subparsers(dest="step", required=True, metavar="STEP")

    classify = sub.add_parser("classify", help="contribution, code or mixed pull request (mixed fails)")
    classify.add_argument("--base", help="base ref (default: origin/$GITHUB_BASE_REF)")
    classify.add_argument("--head", default="HEAD")

    authorize = sub.add_parser("authorize", help="is this event a maintainer's request for samples")
    authorize.add_argument("--permission", type=Path, required=True, help="the sender's collaborator permission JSON")
    authorize.add_argument("--pull", type=Path, required=True, help="the pull request JSON")
    authorize.add_argument("--pinned-head", help="the head found when the request was made: refuse any other")

    export = sub.add_parser("export-pr", help="write a pull request's changed leaves as data")
    export.add_argument("--base", required=True)
    export.add_argument("--head", required=True)
    export.add_argument("--out", type=Path, required=True)
    export.add_argument("--config", type=Path)

    summary = sub.add_parser("summary", help="write the validation job summary from a SARIF report")
    summary.add_argument("--sarif", type=Path, required=True)

    comment = sub.add_parser("comment", help="create or update the sticky samples comment (and the job summary)")
    comment.add_argument("--pr", type=int, required=True)
    comment.add_argument("--body-file", type=Path, required=True)
    comment.add_argument("--repo", help="owner/name (default: $GITHUB_REPOSITORY)")


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _fail(message: str, title: str) -> int:
    print(annotation("error", message, title=title))
    return EXIT_FAILED


def _classify(args) -> int:
    base = args.base or (f"origin/{_env('GITHUB_BASE_REF')}" if _env("GITHUB_BASE_REF") else None)
    if not base:
        raise UsageError("no base ref", hint="pass --base, or run on a pull_request event (GITHUB_BASE_REF)")
    changes = pr_changes.pull_request_changes(Path.cwd(), base, args.head)
    actions.write_outputs(_env("GITHUB_OUTPUT"), {"kind": changes.kind, "leaves": " ".join(changes.leaf_ids())})
    actions.append_summary(_env("GITHUB_STEP_SUMMARY"), pr_changes.render_pr_summary(changes))
    print(f"pull request kind: {changes.kind} ({len(changes.taxonomy)} taxonomy, {len(changes.other)} other files)")
    if changes.kind == "mixed":
        return _fail(pr_changes.split_message(changes), "Split this pull request")
    return EXIT_OK


def _read_json(path: Path) -> dict:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read JSON: {error}", where=str(path))
    return value if isinstance(value, dict) else {}


def _authorize(args) -> int:
    event_name = _env("GITHUB_EVENT_NAME") or ""
    event = actions.load_event(_env("GITHUB_EVENT_PATH"))
    try:
        request = authorize.authorize_samples(
            event_name, event, _read_json(args.permission), _read_json(args.pull), args.pinned_head
        )
    except TaxonError as refusal:
        return _fail(str(refusal), "Samples not generated")
    actions.write_outputs(
        _env("GITHUB_OUTPUT"),
        {"pr": str(request.pr_number), "head_sha": request.head_sha, "base_ref": request.base_ref},
    )
    print(f"samples requested by {request.requested_by} for #{request.pr_number} at {request.head_sha}")
    return EXIT_OK


def _export(args) -> int:
    max_file_bytes = load_config(path=args.config)["documents"]["max_file_bytes"]
    exported = export.export_pr_taxonomy(Path.cwd(), args.base, args.head, args.out, max_file_bytes)
    for path, why in exported.skipped:
        print(annotation("warning", f"not used: {why}", file=path, title="Skipped file"))
    actions.write_outputs(_env("GITHUB_OUTPUT"), {"leaves": str(len(exported.leaves))})
    if not exported.leaves:
        return _fail("this pull request adds or changes no taxonomy leaf", "No leaves")
    print(f"exported {len(exported.files)} files of {len(exported.leaves)} leaves to {exported.root}")
    return EXIT_OK


def _summary(args) -> int:
    markdown = pr_changes.render_validation_summary(_read_json(args.sarif))
    actions.append_summary(_env("GITHUB_STEP_SUMMARY"), markdown)
    print(markdown)
    return EXIT_OK


def _comment(args) -> int:
    repo = args.repo or _env("GITHUB_REPOSITORY")
    if not repo:
        raise UsageError("no repository", hint="pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
    body = args.body_file.read_text(encoding="utf-8")
    print(f"comment {comment.post_sticky_comment(repo, args.pr, body)} on #{args.pr}", file=sys.stderr)
    actions.append_summary(_env("GITHUB_STEP_SUMMARY"), body)
    return EXIT_OK


STEPS = {
    "classify": _classify,
    "authorize": _authorize,
    "export-pr": _export,
    "summary": _summary,
    "comment": _comment,
}


def run(args) -> int:
    return STEPS[args.step](args)
