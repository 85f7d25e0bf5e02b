"""What a pull request changes: taxonomy files, other files, or both (which fails)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from taxon.core.errors import TaxonError
from taxon.core.git import GitFailed, find_repository
from taxon.core.github import dig, log_name
from taxon.core.markdown import code_span, table_code, table_text
from taxon.qna.layout import DECISION_SUFFIX, DECISIONS_DIR, QNA_NAME, TAXONOMY_DIR
from taxon.qna.taxonomy import leaf_id
from taxon.validate.files import leaf_folders, misplaced

SPLIT_HINT = (
    "Split it into two pull requests: one with only leaf files under taxonomy/ (the contribution: "
    "qna.yaml, attribution.txt, knowledge documents) and one with everything else (the code change)."
)


@dataclass(frozen=True)
class PullRequestChanges:
    taxonomy: tuple[str, ...]
    other: tuple[str, ...]

    @property
    def kind(self) -> str:
        """ "contribution" (only taxonomy/ and decisions/), "code" (neither), "mixed", or "empty"."""
        if self.taxonomy and self.other:
            return "mixed"
        if self.taxonomy:
            return "contribution"
        return "code" if self.other else "empty"

    def leaf_ids(self) -> list[str]:
        """Leaves whose qna.yaml changed, or whose folder holds a changed file."""
        ids = set()
        for path in self.taxonomy:
            pure = PurePosixPath(path)
            ids.add(leaf_id(Path(pure if pure.name == QNA_NAME else pure.parent / QNA_NAME)))
        return sorted(ids)


def git_output(repo_root: Path, *args: str, input_bytes: bytes | None = None) -> bytes:
    """git's output for `args` on the repository whose root is `repo_root` (no discovery).
    A ref from outside (a base, a head, a tag) goes after `--end-of-options`: a name such as
    `--output=FILE` is a revision to git then, never an option."""
    repository = find_repository(repo_root)
    if repository is None:
        raise TaxonError("not inside a git repository", where=str(repo_root), hint="run from a clone of the taxonomy")
    try:
        return repository.git(*args, input_bytes=input_bytes)
    except GitFailed as failure:
        raise TaxonError(
            f"git {args[0]} failed: {failure}",
            hint="fetch the base branch and the pull request head (actions/checkout with fetch-depth: 0)",
        ) from None


def changed_paths(repo_root: Path, base: str, head: str = "HEAD") -> list[str]:
    """Files changed on `head` since its merge-base with `base`. Renames count as a delete and
    an add, so moving a file out of taxonomy/ shows on both sides."""
    output = git_output(
        repo_root, "diff", "--name-only", "--no-renames", "-z", "--end-of-options", f"{base}...{head}", "--"
    )
    return sorted(path for path in output.decode("utf-8", errors="surrogateescape").split("\0") if path)


def is_taxonomy_path(path: str) -> bool:
    return PurePosixPath(path).parts[:1] == (TAXONOMY_DIR,)


def leaf_folders_at(repo_root: Path, *commits: str) -> set[PurePosixPath]:
    """The leaf folders (relative to taxonomy/) in any of these commits: a deleted leaf's
    files are still contribution files."""
    folders: set[PurePosixPath] = set()
    for commit in commits:
        output = git_output(
            repo_root,
            "ls-tree",
            "-r",
            "--name-only",
            "-z",
            "--full-tree",
            "--end-of-options",
            commit,
            "--",
            TAXONOMY_DIR,
        )
        names = output.decode("utf-8", errors="surrogateescape").split("\0")
        folders |= leaf_folders(PurePosixPath(name).relative_to(TAXONOMY_DIR) for name in names if name)
    return folders


def is_decision_path(path: str) -> bool:
    """A maintainer's decision file: decisions/<leaf id>/<sample id>.yaml (checked whole by
    taxon validate and taxon gitops check-decisions)."""
    parts = PurePosixPath(path).parts
    return len(parts) >= 3 and parts[0] == DECISIONS_DIR and parts[-1].endswith(DECISION_SUFFIX)


def classify_changes(paths: list[str], leaves: set[PurePosixPath]) -> PullRequestChanges:
    """Contribution files are those with a place in a leaf (see taxon.validate.files) and the
    maintainers' decision files; any other file, under taxonomy/ or not, is code."""

    def contributed(path: str) -> bool:
        if is_decision_path(path):
            return True
        return is_taxonomy_path(path) and misplaced(PurePosixPath(path).relative_to(TAXONOMY_DIR), leaves) is None

    taxonomy = tuple(sorted(p for p in paths if contributed(p)))
    other = tuple(sorted(p for p in paths if not contributed(p)))
    return PullRequestChanges(taxonomy, other)


def pull_request_changes(repo_root: Path, base: str, head: str) -> PullRequestChanges:
    return classify_changes(changed_paths(repo_root, base, head), leaf_folders_at(repo_root, base, head))


def split_message(changes: PullRequestChanges, shown: int = 10) -> str:
    listed = ", ".join(map(log_name, changes.other[:shown])) + (" ..." if len(changes.other) > shown else "")
    return (
        f"This pull request changes {len(changes.taxonomy)} leaf file(s) under taxonomy/ and "
        f"{len(changes.other)} other file(s) ({listed}). {SPLIT_HINT}"
    )


def render_pr_summary(changes: PullRequestChanges) -> str:
    """The job summary (markdown) of the classify step."""
    lines = ["## taxon: pull request", ""]
    verdict = {
        "contribution": "a taxonomy contribution: the changed leaves are validated below",
        "code": "a code change: the test suite runs",
        "mixed": "**mixed**: it changes taxonomy/ and other files. " + SPLIT_HINT,
        "empty": "no file changes",
    }[changes.kind]
    lines += [f"This pull request is {verdict}.", ""]
    leaves = changes.leaf_ids()
    if leaves:
        lines += [f"Changed leaves ({len(leaves)}):", ""]
        lines += [f"- {code_span(leaf)}" for leaf in leaves]
        lines.append("")
    if changes.kind == "mixed":
        lines += [f"Files that are not leaf files ({len(changes.other)}):", ""]
        lines += [f"- {code_span(path)}" for path in changes.other]
        lines.append("")
    return "\n".join(lines)


def render_validation_summary(sarif: dict[str, Any], max_rows: int = 100) -> str:
    """The job summary (markdown) of a validation run, from its SARIF report."""
    results = [r for run in sarif.get("runs") or [] for r in run.get("results") or [] if isinstance(r, dict)]
    levels = {level: sum(1 for r in results if r.get("level") == level) for level in ("error", "warning", "note")}
    verdict = "failed" if levels["error"] else "passed"
    lines = [
        "## taxon: validation",
        "",
        f"Validation {verdict}: {levels['error']} errors, {levels['warning']} warnings, {levels['note']} notes.",
        "",
    ]
    if results:
        lines += ["| Level | Rule | Where | Message |", "|---|---|---|---|"]
        for result in results[:max_rows]:
            location = dig(result, "locations")
            physical = location[0].get("physicalLocation", {}) if isinstance(location, list) and location else {}
            where = f"{dig(physical, 'artifactLocation', 'uri') or '?'}:{dig(physical, 'region', 'startLine') or 1}"
            lines.append(
                f"| {table_text(result.get('level', ''))} | {table_text(result.get('ruleId', ''))} "
                f"| {table_code(where)} | {table_text(dig(result, 'message', 'text') or '')} |"
            )
        if len(results) > max_rows:
            lines += ["", f"... and {len(results) - max_rows} more (see the annotations and code scanning)."]
    return "\n".join(lines) + "\n"
