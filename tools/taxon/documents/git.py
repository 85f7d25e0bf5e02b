"""Fetching one pinned commit of an external document repository, as hostile input.

Only https (file:// too, when the test-only setting `allow_file_urls` is on). The runner's git
config, hooks, submodules and LFS are all out of play; objects are fsck'd on fetch; the
repository is bare and shallow (the one commit), and blobs are read by id without a checkout.
Every git process runs with a scrubbed environment and a timeout. Fetched repositories are
cached by (repo, commit), so a rerun touches no network.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from taxon.core.store import atomic_dir, hash_value
from taxon.documents.records import DocumentProblem, document_settings

FULL_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
PINNED_REF = "refs/taxon/pinned"  # a ref keeps the fetched commit safe from any gc
# Only what git needs to reach a server: no GIT_*, no HOME, no credentials helpers.
KEPT_ENV = (
    "PATH",
    "SYSTEMROOT",
    "http_proxy",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)


@dataclass(frozen=True)
class FetchSettings:
    cache_dir: Path
    timeout_s: float
    allow_file_urls: bool = False  # test-only: lets tests serve repositories from tmp folders

    @classmethod
    def from_config(cls, config: dict) -> FetchSettings:
        section = document_settings(config)
        return cls(
            cache_dir=Path(section["cache_dir"]),
            timeout_s=float(section["fetch_timeout_s"]),
            allow_file_urls=bool(section["allow_file_urls"]),
        )

    @property
    def protocols(self) -> tuple[str, ...]:
        return ("https", "file") if self.allow_file_urls else ("https",)


@dataclass(frozen=True)
class TreeEntry:
    mode: str  # 100644 / 100755 file, 120000 symlink, 160000 submodule
    object_id: str
    size: int  # 0 for a submodule
    path: str

    @property
    def is_regular_file(self) -> bool:
        return self.mode in ("100644", "100755")


class GitFailed(Exception):
    """A git process that failed; str() is its last stderr line, `stderr` all of it."""

    def __init__(self, message: str, stderr: str = ""):
        super().__init__(message)
        self.stderr = stderr


def check_repo_url(url: str, settings: FetchSettings) -> None:
    """Refuse anything but a plain https URL before git ever sees it."""
    url = str(url)
    parts = _split_url(url)
    if parts is None or parts.scheme not in settings.protocols:
        allowed = " or ".join(f"{scheme}://" for scheme in settings.protocols)
        raise DocumentProblem("D001", f"document repository '{_printable(url)}' is refused: use an {allowed} URL")
    if parts.scheme == "https" and (not parts.hostname or parts.username or parts.password):
        raise DocumentProblem(
            "D001",
            f"document repository '{_printable(url)}' is refused: use an https://HOST/... URL without credentials",
        )


def _split_url(url: str) -> SplitResult | None:
    """The parts of a URL made of printable, non-space characters only; None otherwise."""
    if not url.isprintable() or any(char.isspace() for char in url):
        return None
    try:
        parts = urlsplit(url)
        _ = parts.hostname  # raises on a malformed host such as '[::1'
    except ValueError:
        return None
    return parts


def check_commit(commit: str | None) -> str:
    commit = "" if commit is None else str(commit)
    if not FULL_SHA.fullmatch(commit.lower()):
        raise DocumentProblem(
            "D003",
            f"document commit '{_printable(commit)}' is not a full commit sha: pin the full 40-character id",
        )
    return commit.lower()


def fetch_commit(repo: str, commit: str | None, settings: FetchSettings) -> Path:
    """A bare repository holding exactly `commit` of `repo`, fetched once and cached."""
    check_repo_url(repo, settings)
    commit = check_commit(commit)
    folder = settings.cache_dir / "repos" / hash_value({"repo": repo, "commit": commit})[:32]
    if (folder / PINNED_REF).is_file():
        return folder
    with atomic_dir(folder) as building:
        try:
            _run_git(["init", "--quiet", "--bare", "--template=", str(building)], settings)
            _run_git(
                [
                    "fetch",
                    "--quiet",
                    "--depth=1",
                    "--no-tags",
                    "--no-recurse-submodules",
                    "--no-write-fetch-head",
                    repo,
                    f"{commit}:{PINNED_REF}",
                ],
                settings,
                git_dir=building,
            )
            _run_git(["cat-file", "-e", f"{commit}^{{commit}}"], settings, git_dir=building)
        except GitFailed as failure:
            raise _explain_failed_fetch(repo, commit, failure, settings) from None
    return folder


def _explain_failed_fetch(repo: str, commit: str, failure: GitFailed, settings: FetchSettings) -> DocumentProblem:
    """Tell malformed objects, an unreachable repository and a missing commit apart (the
    last two with one cheap probe)."""
    fsck_errors = [line for line in failure.stderr.splitlines() if line.startswith("error: object ")]
    if "fsck error" in failure.stderr:
        return DocumentProblem(
            "D012",
            f"commit {commit} of '{repo}' fails git's object checks "
            f"({_printable(fsck_errors[0] if fsck_errors else str(failure))}): it is not used",
        )
    try:
        _run_git(["ls-remote", "--heads", repo], settings)
    except GitFailed as probe:
        return DocumentProblem(
            "D002", f"document repository '{repo}' cannot be fetched ({probe}): check the URL and that it is public"
        )
    return DocumentProblem(
        "D003", f"commit {commit} is not in '{repo}' ({failure}): pin a commit that is pushed to the repository"
    )


def list_tree(git_dir: Path, commit: str, settings: FetchSettings) -> list[TreeEntry]:
    output = _run_git(["ls-tree", "-r", "-l", "-z", "--full-tree", commit], settings, git_dir=git_dir)
    entries = []
    for record in output.split(b"\0"):
        if not record:
            continue
        meta, path = record.split(b"\t", 1)
        mode, _kind, object_id, size = meta.decode().split()
        entries.append(TreeEntry(mode, object_id, int(size) if size.isdigit() else 0, path.decode("utf-8", "replace")))
    return entries


def read_blob(git_dir: Path, object_id: str, settings: FetchSettings) -> bytes:
    return _run_git(["cat-file", "blob", object_id], settings, git_dir=git_dir)


def _run_git(args: list[str], settings: FetchSettings, git_dir: Path | None = None) -> bytes:
    command = ["git", *_safety_options(settings)]
    if git_dir is not None:
        command.append(f"--git-dir={git_dir}")
    try:
        result = subprocess.run(
            command + args,
            env=_scrubbed_env(settings),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=settings.timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise GitFailed(f"timed out after {settings.timeout_s:g} s") from None
    except OSError as error:
        raise GitFailed(f"git cannot run: {error.strerror}") from None
    if result.returncode != 0:
        stderr = result.stderr.decode("utf-8", "replace")
        raise GitFailed(_last_line(stderr) or f"git {args[0]} exited with {result.returncode}", stderr)
    return result.stdout


def _safety_options(settings: FetchSettings) -> list[str]:
    file_allow = "always" if settings.allow_file_urls else "never"
    options = {
        "core.hooksPath": "/dev/null",
        "core.fsmonitor": "false",
        "protocol.file.allow": file_allow,
        "fetch.fsckObjects": "true",
        "transfer.fsckObjects": "true",
        "fetch.recurseSubmodules": "false",
        "submodule.recurse": "false",
        "credential.helper": "",
        "gc.auto": "0",
        "maintenance.auto": "false",
    }
    return [item for key, value in options.items() for item in ("-c", f"{key}={value}")]


def _scrubbed_env(settings: FetchSettings) -> dict[str, str]:
    env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    env.update(
        {
            "GIT_ALLOW_PROTOCOL": ":".join(settings.protocols),
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_LFS_SKIP_SMUDGE": "1",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "HOME": os.devnull,
            "LC_ALL": "C",
        }
    )
    return env


def _last_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return _printable(lines[-1]) if lines else ""


def _printable(text: str, limit: int = 200) -> str:
    """A remote's words, safe for a terminal or a PR comment: no control characters, short."""
    cleaned = "".join(char if char.isprintable() else "?" for char in text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
