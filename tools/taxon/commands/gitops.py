"""`taxon gitops SUBCOMMAND`: the steps of the GitHub workflows. Each reads the variables a
runner sets (GITHUB_EVENT_NAME, GITHUB_EVENT_PATH, GITHUB_BASE_REF, GITHUB_OUTPUT,
GITHUB_STEP_SUMMARY, GITHUB_REPOSITORY, GITHUB_REPOSITORY_ID) and calls one function of
`taxon.gitops`.

TAXON_DRY_RUN=true (the workflows' `dry_run` input or the TAXON_DRY_RUN variable) writes nothing
to GitHub: the comment and the gate issue go to the job summary only, and what train reads from
GitHub's API (the last good run's cache, the latest release) is gone without, with a notice, when
the API cannot answer (offline, under act)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from taxon.backends.models import PACKAGED_PREFIX
from taxon.core.config import load_config
from taxon.core.errors import EXIT_FAILED, EXIT_OK, TaxonError, UsageError
from taxon.core.github import annotation, dig, log_name, log_safe
from taxon.diff import changed_leaves
from taxon.gitops import actions, authorize, comment, export, gate, releases, restore
from taxon.gitops import changes as pr_changes
from taxon.gitops import decide as decide_steps
from taxon.gitops.gh import gh_json, run_gh
from taxon.qna.layout import DECISIONS_DIR
from taxon.qna.taxonomy import leaf_id

DRY_RUN_NOTE = "dry run (TAXON_DRY_RUN=true): "


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="step", required=True, metavar="STEP")

    classify = sub.add_parser("classify", help="contribution, code or mixed pull request (mixed fails)")
    classify.add_argument("--base", help="base ref (default: origin/$GITHUB_BASE_REF)")
    classify.add_argument("--head", default="HEAD")

    authorize = sub.add_parser("authorize", help="is this event a maintainer's request for samples")
    authorize.add_argument("--permission", type=Path, required=True, help="the sender's collaborator permission JSON")
    authorize.add_argument("--pull", type=Path, required=True, help="the pull request JSON")
    authorize.add_argument("--pinned-head", help="the head found when the request was made: refuse any other")

    decide = sub.add_parser("decide", help="commit a maintainer's /taxon keep|drop|fix comment to the PR branch")
    decide.add_argument("--permission", type=Path, required=True, help="the commenter's collaborator permission JSON")
    decide.add_argument("--pull", type=Path, required=True, help="the pull request JSON")
    decide.add_argument("--config", type=Path)

    check = sub.add_parser("check-decisions", help="every decision a pull request changes is a maintainer's")
    check.add_argument("--pr", type=int, required=True)
    check.add_argument("--base", required=True, help="the base ref (origin/main)")
    check.add_argument("--head", required=True, help="the pull request's head commit")
    check.add_argument(
        "--status", action="store_true", help=f"also set the commit status {decide_steps.STATUS_CONTEXT}"
    )
    check.add_argument("--config", type=Path)

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

    restore = sub.add_parser("restore-generate", help="restore the generation unit cache of the last good run on main")
    restore.add_argument("--config", type=Path)
    restore.add_argument("--profile", default="gpu", help="the profile whose generate.cache_dir to fill")
    restore.add_argument("--max-commits", type=int, default=200, help="how far back main's history is searched")

    pack = sub.add_parser("pack-generate", help="gather the unit cache entries this run used, for the next run")
    pack.add_argument("--config", type=Path)
    pack.add_argument("--profile", default="gpu", help="the profile whose generate.cache_dir to read")
    pack.add_argument("--out", type=Path, required=True)

    fetch = sub.add_parser("fetch-release", help="download the latest release's bundle, its digest checked")
    fetch.add_argument("--out", type=Path, required=True)

    build = sub.add_parser("find-build", help="the bundle the train run built and gated for a commit")
    build.add_argument("--sha", required=True, help="the commit (the tag's)")
    build.add_argument("--ref", required=True, help="the tag being released")
    build.add_argument("--out", type=Path, required=True)

    models = sub.add_parser("check-models", help="fail early when a GPU profile still names the demo's packaged models")
    models.add_argument("--config", type=Path)
    models.add_argument("--profile", required=True)
    models.add_argument(
        "--teacher-endpoint", action="store_true", help="the teacher is reached at $TAXON_TEACHER_URL: it must be set"
    )

    changed = sub.add_parser("changed-leaves", help="the leaves changed since the last trained commit, for the gate")
    changed.add_argument("--since", default="", help="the last trained commit (restore-generate's from_sha)")
    changed.add_argument("--before", default="", help="the push's previous head: used when no commit was trained")
    changed.add_argument("--config", type=Path)

    redact = sub.add_parser("redact", help="copy stdin to stdout with the values of secret variables hidden")
    redact.add_argument("--env", action="append", default=[], metavar="NAME", help="a variable whose value to hide")

    for name, text in (
        ("train-summary", "the job summary: the candidate against the base model and the latest release"),
        ("gate-issue", "open or update the one issue of a failed gate on main; close it once the gate passes"),
    ):
        report = sub.add_parser(name, help=text)
        report.add_argument("--report", type=Path, required=True, help="the evaluate stage's report.json")
        report.add_argument("--previous-bundle", default="", help="the latest release's bundle folder, if any")
        report.add_argument("--previous-tag", default="", help="the latest release's tag, if any")
        if name == "gate-issue":
            report.add_argument("--run-url", required=True)
            report.add_argument("--repo", help="owner/name (default: $GITHUB_REPOSITORY)")


SHOWN_SKIPPED = 20  # annotations for files export-pr skipped; the rest are counted by reason


def _env(name: str) -> str | None:
    return os.environ.get(name) or None


def _fail(message: str, title: str) -> int:
    print(annotation("error", message, title=title))
    return EXIT_FAILED


def _classify(args: argparse.Namespace) -> int:
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


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"cannot read JSON: {error}", where=str(path))
    return value if isinstance(value, dict) else {}


def _authorize(args: argparse.Namespace) -> int:
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


def _decisions_dir(config_path: Path | None) -> str:
    """decisions/ beside the configured taxonomy folder, from the repository root."""
    root = load_config(path=config_path).taxonomy.root
    return (PurePosixPath(root).parent / DECISIONS_DIR).as_posix()


def _decide(args: argparse.Namespace) -> int:
    event = actions.load_event(_env("GITHUB_EVENT_PATH"))
    repo, pull = _repo(args), _read_json(args.pull)
    request = None
    try:
        request = decide_steps.authorize_decisions(
            _env("GITHUB_EVENT_NAME") or "", event, _read_json(args.permission), pull, _repository_id()
        )
        with tempfile.TemporaryDirectory() as scratch:
            heads = decide_steps.samples_heads(Path.cwd(), request.head_sha, _decisions_dir(args.config))
            dataset = decide_steps.fetch_samples(repo, _repository_id(), request.pr_number, heads, Path(scratch))
            decisions = decide_steps.decisions_from(request.commands, dataset, request.requested_by)
        message = (
            f"decisions: {', '.join(f'{d.action} {d.sample}' for d in decisions[:8])}"
            f"{' ...' if len(decisions) > 8 else ''}\n\nCommanded by {request.requested_by} in a comment on "
            f"pull request #{request.pr_number}."
        )
        commit = decide_steps.commit_decisions(
            Path.cwd(), request.head_sha, decisions, _decisions_dir(args.config), message
        )
        if _dry_run():
            print(f"{DRY_RUN_NOTE}{commit[:12]} was not pushed to {request.head_ref}")
        else:
            decide_steps.push(Path.cwd(), commit, request.head_ref, decide_steps.env_token())
    except TaxonError as refusal:
        number = dig(event, "issue", "number")
        shown = refusal.message + (f" ({refusal.hint})" if refusal.hint else "")
        if isinstance(number, int) and dig(event, "comment", "body"):
            placeholder = request or decide_steps.DecisionRequest(
                number, "", "", dig(event, "sender", "login") or "", ()
            )
            reply = decide_steps.render_reply(placeholder, None, None, shown)
            _to_github(f"the reply on #{number}", reply, lambda: decide_steps.post_reply(repo, number, reply))
        return _fail(shown, "Decisions not applied")
    base = f"origin/{dig(pull, 'base', 'ref') or 'main'}"
    vouching = _vouch(repo, request.pr_number, base, commit, dig(pull, "user", "login") or "", args.config)
    _to_github(f"the status of {commit[:12]}", None, lambda: decide_steps.post_status(repo, commit, vouching))
    reply = decide_steps.render_reply(request, decisions, commit, None)
    _to_github(
        f"the reply on #{request.pr_number}", reply, lambda: decide_steps.post_reply(repo, request.pr_number, reply)
    )
    actions.write_outputs(_env("GITHUB_OUTPUT"), {"commit": commit, "decisions": str(len(decisions))})
    print(f"{len(decisions)} decisions by {request.requested_by} committed to {request.head_ref} as {commit[:12]}")
    return EXIT_OK


def _to_github(what: str, body: str | None, post: Callable[[], object]) -> None:
    """Post to GitHub, or in a dry run say what was not posted (and put `body` in the summary)."""
    if not _dry_run():
        post()
        return
    print(f"{DRY_RUN_NOTE}{what} was not posted" + ("; it is in the job summary" if body else ""))
    if body:
        actions.append_summary(_env("GITHUB_STEP_SUMMARY"), f"*{DRY_RUN_NOTE}{what}, not posted:*\n\n{body}")


def _vouch(
    repo: str, pr_number: int, base: str, head: str, author: str, config_path: Path | None
) -> decide_steps.Vouching:
    changed = decide_steps.changed_decisions(Path.cwd(), base, head, _decisions_dir(config_path))
    comments = decide_steps.list_comments(repo, pr_number)
    return decide_steps.vouch(changed, author, comments, decide_steps.write_access(repo))


def _check_decisions(args: argparse.Namespace) -> int:
    repo = _repo(args)
    pull = gh_json(run_gh, f"repos/{repo}/pulls/{args.pr}") or {}
    vouching = _vouch(repo, args.pr, args.base, args.head, dig(pull, "user", "login") or "", args.config)
    if args.status:
        _to_github(f"the status of {args.head[:12]}", None, lambda: decide_steps.post_status(repo, args.head, vouching))
    for path, why in vouching.vouched:
        print(f"{path}: a maintainer's decision ({why})")
    for path, why in vouching.refused:
        print(annotation("error", f"R005 {why}", file=path, title="Decision not made by a maintainer"))
    actions.append_summary(
        _env("GITHUB_STEP_SUMMARY"),
        f"Decisions: {len(vouching.vouched)} changed by maintainers, {len(vouching.refused)} refused.",
    )
    return EXIT_FAILED if vouching.refused else EXIT_OK


def _export(args: argparse.Namespace) -> int:
    limits = load_config(path=args.config).documents
    exported = export.export_pr_taxonomy(Path.cwd(), args.base, args.head, args.out, limits)
    for path, why in exported.skipped[:SHOWN_SKIPPED]:
        print(annotation("warning", f"not used: {why}", file=log_name(path), title="Skipped file"))
    if len(exported.skipped) > SHOWN_SKIPPED:
        reasons = Counter(why for _, why in exported.skipped[SHOWN_SKIPPED:])
        counted = "; ".join(f"{count} {why}" for why, count in reasons.most_common())
        print(annotation("warning", f"{sum(reasons.values())} more files not used ({counted})", title="Skipped files"))
    actions.write_outputs(_env("GITHUB_OUTPUT"), {"leaves": str(len(exported.leaves))})
    if not exported.leaves:
        return _fail("this pull request adds or changes no taxonomy leaf", "No leaves")
    print(f"exported {len(exported.files)} files of {len(exported.leaves)} leaves to {exported.root}")
    return EXIT_OK


def _summary(args: argparse.Namespace) -> int:
    markdown = pr_changes.render_validation_summary(_read_json(args.sarif))
    actions.append_summary(_env("GITHUB_STEP_SUMMARY"), markdown)
    print(log_safe(markdown))
    return EXIT_OK


def _repo(args: argparse.Namespace) -> str:
    repo = getattr(args, "repo", None) or _env("GITHUB_REPOSITORY")
    if not repo:
        raise UsageError("no repository", hint="pass --repo OWNER/NAME or set GITHUB_REPOSITORY")
    return repo


def _repository_id() -> int:
    """GITHUB_REPOSITORY_ID, else the event's repository.id (act and some runners leave the
    variable unset; every event payload of a repository carries the id)."""
    value = _env("GITHUB_REPOSITORY_ID") or ""
    if value.isdigit():
        return int(value)
    from_event = None
    if _env("GITHUB_EVENT_PATH"):
        from_event = dig(actions.load_event(_env("GITHUB_EVENT_PATH")), "repository", "id")
    if isinstance(from_event, int) and not isinstance(from_event, bool):
        return from_event
    raise UsageError(
        "no repository id: GITHUB_REPOSITORY_ID is unset and the event has no repository.id",
        hint="set GITHUB_REPOSITORY_ID (a GitHub runner does; under act: --env GITHUB_REPOSITORY_ID=N)",
    )


def _dry_run() -> bool:
    return (_env("TAXON_DRY_RUN") or "").lower() in ("1", "true", "yes")


def _without_github(what: str, error: TaxonError, consequence: str) -> None:
    """A dry run goes without what GitHub's API could not give it, and says so."""
    message = f"{DRY_RUN_NOTE}{what} skipped, GitHub's API did not answer ({error.message}); {consequence}"
    print(annotation("notice", message, title="Dry run"))
    actions.append_summary(_env("GITHUB_STEP_SUMMARY"), f"{what.capitalize()}: {message}.")


def _comment(args: argparse.Namespace) -> int:
    body = args.body_file.read_text(encoding="utf-8")
    if _dry_run():
        print(f"{DRY_RUN_NOTE}the comment on #{args.pr} was not posted; it is in the job summary")
        actions.append_summary(_env("GITHUB_STEP_SUMMARY"), f"*{DRY_RUN_NOTE}not posted on #{args.pr}:*")
    else:
        print(f"comment {comment.post_sticky_comment(_repo(args), args.pr, body)} on #{args.pr}", file=sys.stderr)
    actions.append_summary(_env("GITHUB_STEP_SUMMARY"), body)
    return EXIT_OK


def _restore_generate(args: argparse.Namespace) -> int:
    cache_root = Path(load_config(profile=args.profile, path=args.config).generate.cache_dir)
    commits = pr_changes.git_output(Path.cwd(), "rev-list", "--first-parent", f"--max-count={args.max_commits}", "HEAD")
    work_dir = Path(_env("RUNNER_TEMP") or cache_root)
    try:
        restored = restore.restore_generate_cache(
            _repo(args), _repository_id(), commits.decode().split(), cache_root, work_dir
        )
    except TaxonError as error:
        if not _dry_run():
            raise
        _without_github("the generation cache", error, "every leaf is generated")
        actions.write_outputs(_env("GITHUB_OUTPUT"), {"restored": "0", "from_sha": ""})
        return EXIT_OK
    if restored.run is None:
        message = "no earlier good train run on main with a unit cache: every leaf is generated"
    else:
        message = (
            f"restored {restored.added} cached units ({restored.kept} already here) from the run of "
            f"{restored.run['head_sha'][:12]}: {restored.run.get('html_url')}; only changed leaves reach the teacher"
        )
    actions.write_outputs(
        _env("GITHUB_OUTPUT"),
        {"restored": str(restored.added), "from_sha": restored.run["head_sha"] if restored.run else ""},
    )
    actions.append_summary(_env("GITHUB_STEP_SUMMARY"), f"Generation cache: {message}.")
    print(message)
    return EXIT_OK


def _pack_generate(args: argparse.Namespace) -> int:
    cache_root = Path(load_config(profile=args.profile, path=args.config).generate.cache_dir)
    carried, left_out = restore.pack_used_units(cache_root, args.out)
    actions.write_outputs(_env("GITHUB_OUTPUT"), {"units": str(carried)})
    print(f"carried {carried} units this run used to the next run; left out {left_out} it did not use")
    return EXIT_OK


def _fetch_release(args: argparse.Namespace) -> int:
    try:
        release = releases.fetch_release_bundle(_repo(args), args.out)
    except TaxonError as error:
        if not _dry_run():
            raise
        _without_github("the latest release", error, "the candidate is compared with the base model only")
        release = None
    outputs = {"bundle": str(release.bundle) if release else "", "tag": release.tag if release else ""}
    actions.write_outputs(_env("GITHUB_OUTPUT"), outputs)
    if release is None:
        print("no release yet: the candidate is compared with the base model only")
    else:
        print(f"latest release {log_name(release.tag)} ({release.digest}) unpacked to {release.bundle}")
    return EXIT_OK


def _find_build(args: argparse.Namespace) -> int:
    try:
        build = releases.find_build(_repo(args), _repository_id(), args.sha, args.ref, args.out)
    except TaxonError as error:
        return _fail(f"{error.message} To make one: {error.hint}" if error.hint else error.message, "No gated build")
    if build.gate_passed is False:
        print(annotation("warning", "this bundle's gate failed: it was published with require_passed_gate=false"))
    actions.write_outputs(
        _env("GITHUB_OUTPUT"),
        {
            "archive": str(build.archive),
            "bundle": str(build.bundle),
            "digest": build.digest,
            "sums": str(build.sums),
            "sums_digest": build.sums_digest,
            "run_url": str(build.run.get("html_url") or ""),
        },
    )
    print(f"{build.archive.name} ({build.digest}) from {build.run.get('html_url')}")
    print(f"{build.sums.name} ({build.sums_digest}): check a download with taxon verify BUNDLE --sha256sums-digest")
    return EXIT_OK


def _report_labels(args: argparse.Namespace) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    if not args.report.is_file():
        return None, {}
    report = _read_json(args.report)
    return report, gate.baseline_labels(report, args.previous_bundle or None, args.previous_tag or None)


def _train_summary(args: argparse.Namespace) -> int:
    report, labels = _report_labels(args)
    markdown = (
        gate.render_train_summary(report, labels)
        if report
        else "## taxon: train on main\n\nNo evaluation report: the run stopped before evaluate (see its log).\n"
    )
    actions.append_summary(_env("GITHUB_STEP_SUMMARY"), markdown)
    print(log_safe(markdown))
    return EXIT_OK


def _merged_since(tag: str | None) -> list[gate.MergedChange]:
    """The merges on main since the release `tag` (a name from the releases API: after
    --end-of-options, and as refs/tags/ only), else the last 50."""
    span = ["--end-of-options", f"refs/tags/{tag}..HEAD"] if tag else ["--max-count=50", "--end-of-options", "HEAD"]
    log = pr_changes.git_output(Path.cwd(), "log", "--first-parent", "--format=%H%x1f%s", *span).decode(
        errors="replace"
    )
    return [gate.MergedChange(*line.split("\x1f", 1)) for line in log.splitlines() if "\x1f" in line]


def _gate_issue(args: argparse.Namespace) -> int:
    report, labels = _report_labels(args)
    commit = pr_changes.git_output(Path.cwd(), "rev-parse", "HEAD").decode().strip()
    if report is None:
        print("no evaluation ran: the gate issue is left as it is")
        return EXIT_OK
    if report["gate"]["passed"] and _dry_run():
        print(f"{DRY_RUN_NOTE}the gate passed; an open gate issue was not looked for or closed")
        return EXIT_OK
    if report["gate"]["passed"]:
        closed = comment.close_gate_issue(_repo(args), f"The gate passed again at `{commit[:12]}`: {args.run_url}")
        print(f"the gate passed; closed the gate issue #{closed}" if closed else "the gate passed: no open gate issue")
        return EXIT_OK
    tag = args.previous_tag or None
    body = gate.render_gate_issue(report, labels, commit, args.run_url, _merged_since(tag), tag)
    if _dry_run():
        print(f"{DRY_RUN_NOTE}the gate issue was not opened; it is in the job summary")
        actions.append_summary(_env("GITHUB_STEP_SUMMARY"), f"*{DRY_RUN_NOTE}this issue was not opened:*")
    else:
        print(f"gate issue {comment.post_gate_issue(_repo(args), gate.GATE_ISSUE_TITLE, body)}", file=sys.stderr)
    actions.append_summary(_env("GITHUB_STEP_SUMMARY"), body)
    return EXIT_OK


def _check_models(args: argparse.Namespace) -> int:
    """A profile that runs on GPUs (vLLM, or several trainer processes) naming the demo's packaged
    CPU model would train and publish a 135M demo: refused before anything is installed or
    generated, with the settings to change."""
    config = load_config(profile=args.profile, path=args.config)
    named = {"models.base": config.models.base, "generate.teacher": config.generate.teacher}
    on_gpu = "vllm" in (config.generate.backend, config.evaluate.backend) or str(config.train.nproc_per_node) not in (
        "1",
        "",
    )
    demo = {key: value for key, value in named.items() if str(value).startswith(PACKAGED_PREFIX)}
    if on_gpu and demo:
        keys = ", ".join(f"{key} = {value!r}" for key, value in demo.items())
        return _fail(
            f"the {args.profile} profile runs on GPUs but still names the demo's packaged model ({keys}). "
            f"Set your models in taxon.toml under [profiles.{args.profile}.models] base and "
            f"[profiles.{args.profile}.generate] teacher (README: Setting up the GPU runner).",
            "Set the GPU runner's models",
        )
    if args.teacher_endpoint and not _env("TAXON_TEACHER_URL"):
        return _fail(
            "no teacher endpoint: the secret TAXON_TEACHER_URL is empty in this job",
            "Set the teacher's endpoint",
        )
    print(f"profile {args.profile}: base {named['models.base']}, teacher {named['generate.teacher']}")
    return EXIT_OK


def _changed_leaves(args: argparse.Namespace) -> int:
    """The leaves the gate requires to improve: those changed since the commit the last good
    train run on main trained (so merges folded into one run all count), else since the push's
    previous head; as a TOML list for `--set pipeline.changed_leaves=...`."""
    zero = "0" * 40
    since = args.since or (args.before if args.before and args.before != zero else "")
    if not since:
        leaves: list[str] = []
        message = "no earlier trained commit and no previous head: no leaf is required to improve"
    else:
        taxonomy_dir = load_config(path=args.config).taxonomy.root
        changes = changed_leaves(Path.cwd(), base=since, taxonomy_dir=taxonomy_dir)
        qna_files = [*changes.added, *changes.modified, *(new for _, new in changes.renamed)]
        leaves = sorted({leaf_id(path) for path in qna_files})
        message = f"{len(leaves)} leaves changed since {since[:12]}: " + (", ".join(leaves) or "none")
    actions.write_outputs(_env("GITHUB_OUTPUT"), {"leaves": json.dumps(leaves), "since": since})
    actions.append_summary(_env("GITHUB_STEP_SUMMARY"), f"Changed leaves (each must improve): {log_safe(message)}.")
    print(log_safe(message))
    return EXIT_OK


def _redact(args: argparse.Namespace) -> int:
    """Secrets never reach a comment or an artifact: their values (and a URL's host) become ***."""
    from urllib.parse import urlsplit

    hidden = set()
    for name in args.env:
        value = _env(name)
        if value:
            hidden.add(value)
            host = urlsplit(value).hostname if "://" in value else None
            if host and host not in ("127.0.0.1", "localhost"):
                hidden.add(host)
    for line in sys.stdin:
        for value in sorted(hidden, key=len, reverse=True):
            line = line.replace(value, "***")
        sys.stdout.write(line)
        sys.stdout.flush()
    return EXIT_OK


STEPS = {
    "classify": _classify,
    "authorize": _authorize,
    "decide": _decide,
    "check-decisions": _check_decisions,
    "export-pr": _export,
    "summary": _summary,
    "comment": _comment,
    "restore-generate": _restore_generate,
    "pack-generate": _pack_generate,
    "fetch-release": _fetch_release,
    "find-build": _find_build,
    "train-summary": _train_summary,
    "gate-issue": _gate_issue,
    "check-models": _check_models,
    "changed-leaves": _changed_leaves,
    "redact": _redact,
}


def run(args: argparse.Namespace) -> int:
    return STEPS[args.step](args)
