"""`taxon init DIR`: a new taxonomy repository that works out of the box.

It gets the three kinds under `taxonomy/` with one example leaf each, this taxon's
`taxon.toml`, the four workflows of this repository with taxon pinned to one commit in every
install step and installed under this repository's pins (requirements/constraints.txt, and the
GPU runner's requirements/gpu.txt, carried along), a `.pre-commit-config.yaml` running taxon's
exported hook at that same commit, CONTRIBUTING.md, SECURITY.md, a README and a .gitignore.

The pin is a commit, resolved once: a tag is looked up at the source (`git ls-remote`) and
its commit written; a full commit is checked to exist there (fetched by id), or written only
with `unverified=True`, which the command says loudly. A branch (it moves), an http:// or
git:// source (no integrity), and any character a shell or YAML could read as more than a
name are refused.

The templates are package data (templates/); the workflows and taxon.toml are this
repository's own files (taxon.core.shipped: the checkout's, or the wheel's copies), so a new
repository starts from exactly what this one runs. In a taxonomy repository there is no
test suite, so the pull-request workflow's code job validates the whole tree instead.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from taxon import __version__
from taxon.core.errors import UsageError
from taxon.core.git import GitFailed, run_git
from taxon.core.github import SAMPLES_LABEL
from taxon.core.shipped import shipped_path
from taxon.core.store import atomic_write_text
from taxon.qna.layout import TAXONOMY_DIR

DEFAULT_REV = f"v{__version__}"
# `pip install -e .` or `-e '.[gpu]'`: this repository installing itself
_SELF_INSTALL = re.compile(r"""-e\s+(['"]?)\.(\[[\w,-]+\])?\1""")
# The pins every install of taxon uses, carried into the new repository.
CARRIED_REQUIREMENTS = ("requirements/constraints.txt", "requirements/gpu.txt")
FULL_SHA = re.compile(r"[0-9a-f]{40}")
# A revision: a tag or a commit, nothing a shell, YAML or git could read as more than a name.
_REV = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/+-]{0,127}")
# A source: https://, ssh:// or git@host:path, file:// or a local path; the characters of such
# names only (no quote, space, $, `, ;, |, &, <, >, (, ), backslash, newline, # or ?).
_SOURCE_CHARS = re.compile(r"[A-Za-z0-9._~:/@%+=,-]+")
_INSECURE_SCHEMES = ("http", "git", "ftp", "ftps")
_JOB = re.compile(r"^  ([A-Za-z0-9_-]+):\n", re.MULTILINE)
_CODE_JOBS_COMMENT = re.compile(r"^# Code changes run .*$", re.MULTILINE)
_FILLED = {  # template -> file written, its {name}, {source}, {rev} and {label} filled in
    "README.md": "README.md",
    "CONTRIBUTING.md": "CONTRIBUTING.md",
    "SECURITY.md": "SECURITY.md",
    "pre-commit-config.yaml": ".pre-commit-config.yaml",
}
_COPIED = {"gitignore": ".gitignore"}


def _is_url(source: str) -> bool:
    return "://" in source or re.fullmatch(r"[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:.+", source) is not None


def check_source(source: str) -> str:
    """The source as given, when it is a name taxon init may write into workflows; else UsageError."""
    if not source:
        raise UsageError(
            "taxon init needs the git repository of taxon, to pin its hook and workflows to",
            hint="taxon init DIR --source https://github.com/OWNER/taxon [--rev TAG_OR_COMMIT]",
        )
    if not _SOURCE_CHARS.fullmatch(source) or source.startswith("-"):
        raise UsageError(
            f"--source {source!r} holds characters a shell or a workflow could read as code",
            hint="give a plain https:// URL (or ssh, or a local clone's path)",
        )
    scheme = source.split("://", 1)[0].lower() if "://" in source else ""
    if scheme in _INSECURE_SCHEMES:
        raise UsageError(
            f"--source {source!r} is {scheme}://: nothing checks what it serves",
            hint="use https:// (or ssh) for taxon's repository",
        )
    return source


def check_rev(rev: str) -> str:
    if not _REV.fullmatch(rev) or ".." in rev or rev.endswith((".lock", "/", ".")):
        raise UsageError(
            f"--rev {rev!r} is not a tag or a commit name (it holds characters a shell or a workflow could read as code)",
            hint="give a release tag (v0.1.0) or a full commit SHA",
        )
    return rev


@dataclass(frozen=True)
class Pin:
    source: str
    rev: str  # what was asked for
    commit: str  # the full SHA written into the files
    verified: bool  # the commit was found at the source


def _git_url(source: str) -> str:
    return source if _is_url(source) else Path(source).resolve().as_uri()


def _protocols(source: str) -> tuple[str, ...]:
    return ("https", "ssh", "file")


def resolve_pin(source: str, rev: str, unverified: bool = False, timeout_s: float = 120) -> Pin:
    """The commit to pin for `rev` at `source`: a tag's commit (annotated tags peeled), or a
    full commit that the source has. A branch, a name the source lacks, or a commit it can't be
    shown to have are refused (the last one pinned anyway with `unverified`)."""
    check_source(source)
    check_rev(rev)
    url = _git_url(source)
    with tempfile.TemporaryDirectory(prefix="taxon-init-") as scratch:
        git_dir = Path(scratch) / "probe.git"
        run_git(["init", "-q", "--bare", str(git_dir)], git_dir=git_dir)

        def git(*args: str) -> str:
            return run_git(list(args), git_dir=git_dir, protocols=_protocols(source), timeout_s=timeout_s).decode()

        try:
            listing = git("ls-remote", "--end-of-options", url)
        except GitFailed as failure:
            if FULL_SHA.fullmatch(rev) and unverified:
                return Pin(source, rev, rev, verified=False)
            raise UsageError(
                f"cannot list the revisions of {source}: {failure}",
                hint="check the URL and the network; to pin a full commit without checking it: --unverified",
            )
        refs: dict[str, str] = {}
        for line in listing.splitlines():
            sha, _, name = line.partition("\t")
            refs[name] = sha
        if FULL_SHA.fullmatch(rev):
            if rev in refs.values():
                return Pin(source, rev, rev, verified=True)
            try:
                git("fetch", "-q", "--depth=1", "--no-tags", "--end-of-options", url, rev)
                return Pin(source, rev, rev, verified=True)
            except GitFailed as failure:
                if unverified:
                    return Pin(source, rev, rev, verified=False)
                raise UsageError(
                    f"commit {rev} is not in {source} ({failure})",
                    hint="check the commit; to pin it all the same: --unverified",
                )
    if f"refs/heads/{rev}" in refs or rev == "HEAD":
        raise UsageError(
            f"--rev {rev} is a branch of {source}: it moves, so every run would install other code",
            hint="pin a release tag or a full commit SHA",
        )
    tag = refs.get(f"refs/tags/{rev}^{{}}") or refs.get(f"refs/tags/{rev}")
    if tag is None:
        tags = sorted(
            name.removeprefix("refs/tags/") for name in refs if name.startswith("refs/tags/") and "^" not in name
        )
        raise UsageError(
            f"{source} has no tag {rev!r}",
            hint=f"its tags: {', '.join(tags[-5:])}" if tags else "it has no tags: pin a full commit SHA",
        )
    return Pin(source, rev, tag, verified=True)


def install_spec(source: str, rev: str, extras: str = "") -> str:
    """The pip requirement for taxon at `rev` of the git repository `source`."""
    url = _git_url(source)
    return f"taxon{extras} @ git+{url}@{rev}"


def _jobs(text: str) -> dict[str, tuple[int, int]]:
    """Each job's (start, end) in a workflow's text: from its `  id:` line to the next job's."""
    body = text.index("\njobs:\n") + len("\njobs:\n")
    starts = [(match.group(1), match.start()) for match in _JOB.finditer(text, body)]
    ends = [start for _, start in starts[1:]] + [len(text)]
    return {name: (start, end) for (name, start), end in zip(starts, ends)}


def _replace_job(text: str, job: str, replacement: str) -> str:
    start, end = _jobs(text)[job]
    return text[:start] + replacement + text[end:]


# A taxonomy repository has no test suite and no Makefile: its code job validates the whole tree
# and its documents, and its lint is the pre-commit hook that runs the same validator.
_TREE_JOB = """  test:
    name: validate the whole tree
    needs: classify
    if: needs.classify.outputs.kind == 'code'
    runs-on: ubuntu-24.04
    timeout-minutes: 30
    permissions:
      contents: read
    steps:
{checkout}
{setup_python}
      - name: Install taxon
        run: python -m pip install --no-cache-dir -c requirements/constraints.txt '{spec}'
      - name: Validate every leaf and its documents
        run: taxon validate --check-documents
"""


def _step(text: str, job: str, uses: str) -> str:
    """A `uses:` step of a job of this repository's workflow, as it is written there."""
    start, end = _jobs(text)[job]
    lines = text[start:end].splitlines()
    first = next(i for i, line in enumerate(lines) if line.strip().startswith(f"- uses: {uses}@"))
    step = [lines[first]]
    for line in lines[first + 1 :]:
        if line.strip().startswith("- ") or len(line) - len(line.lstrip()) <= 6:
            break
        step.append(line)
    return "\n".join(line for line in step if not line.strip().startswith(("id:", "fetch-depth")))


def pin_workflow(text: str, source: str, rev: str) -> str:
    """A workflow of this repository for a taxonomy repository: every install of taxon from
    the checkout becomes an install of the pinned commit under the same pins, and the code
    jobs (lint, the test suite: there is neither) become one validation of the whole tree."""
    text = _SELF_INSTALL.sub(lambda match: f"'{install_spec(source, rev, match.group(2) or '')}'", text)
    jobs = _jobs(text) if "\njobs:\n" in text else {}
    if "test" in jobs:
        tree = _TREE_JOB.format(
            checkout=_step(text, "test", "actions/checkout"),
            setup_python=_step(text, "test", "actions/setup-python").replace('"3.11"', '"3.12"'),
            spec=install_spec(source, rev),
        )
        text = _replace_job(text, "test", tree)
    if "lint" in jobs:
        text = _replace_job(text, "lint", "")
    return _CODE_JOBS_COMMENT.sub(
        "# Other changes validate the whole tree and its documents (there is no test suite).", text
    )


def _templates() -> Traversable:
    return resources.files("taxon.scaffold") / "templates"


def _fill(text: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def _tree(folder: Traversable) -> list[tuple[str, str]]:
    """(relative path, text) of every file under a template folder."""
    files = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.is_dir():
            files += [(f"{entry.name}/{path}", text) for path, text in _tree(entry)]
        elif entry.is_file():
            files.append((entry.name, entry.read_text(encoding="utf-8")))
    return files


def init_repository(target: Path, pin: Pin, repository_name: str | None = None) -> list[Path]:
    """Write the new repository's files into `target` (absent or empty), taxon pinned to
    `pin.commit` (see resolve_pin); returns them."""
    target = Path(target)
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UsageError(f"{target} exists and is not an empty folder", hint="taxon init a new folder")
    source, rev = check_source(pin.source), pin.commit
    if not FULL_SHA.fullmatch(rev):
        raise UsageError(f"not a full commit SHA: {rev!r}", hint="resolve the revision first (resolve_pin)")
    templates = _templates()
    values = {"name": repository_name or target.resolve().name, "source": source, "rev": rev, "label": SAMPLES_LABEL}
    files = {f"{TAXONOMY_DIR}/{path}": text for path, text in _tree(templates / TAXONOMY_DIR)}
    files |= {
        f".github/workflows/{path}": pin_workflow(text, source, rev)
        for path, text in _tree(shipped_path(".github/workflows"))
    }
    files |= {name: shipped_path(name).read_text(encoding="utf-8") for name in CARRIED_REQUIREMENTS}
    files |= {out: _fill((templates / name).read_text(encoding="utf-8"), values) for name, out in _FILLED.items()}
    files |= {out: (templates / name).read_text(encoding="utf-8") for name, out in _COPIED.items()}
    files["taxon.toml"] = shipped_path("taxon.toml").read_text(encoding="utf-8")
    written = []
    for relative, text in sorted(files.items()):
        path = target / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        written.append(path)
    return written
