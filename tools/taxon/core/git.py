"""The one way the package runs git: every call names its repository and runs hardened.

A contribution is hostile input, and files under taxonomy/ can be shaped like a bare
repository (HEAD, objects/, refs/, a config with `core.fsmonitor = <command>`). So git never
discovers a repository: the caller finds the root by its `.git` entry (never a bare layout)
and every call passes `--git-dir` (and `--work-tree` when it reads the working tree). System
and global config are off, `safe.bareRepository=explicit`, fsmonitor and hooks are off, the
caller's GIT_* variables are dropped, only the listed protocols may reach a remote, and every
process has a timeout.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

# Only what git needs to run or reach a server: no GIT_*, no HOME, no credential helpers.
KEPT_ENV = (
    "PATH",
    "SYSTEMROOT",
    "TMPDIR",
    "http_proxy",
    "https_proxy",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
HARDENING = {
    "safe.bareRepository": "explicit",
    "core.fsmonitor": "false",
    "core.hooksPath": os.devnull,
    "protocol.allow": "never",
    "credential.helper": "",
    "gc.auto": "0",
    "maintenance.auto": "false",
}
DEFAULT_TIMEOUT_S = 300.0


class GitFailed(Exception):
    """A git process that failed; str() is its last stderr line, `stderr` all of it."""

    def __init__(self, message: str, stderr: str = "", timed_out: bool = False, over_cap: bool = False):
        super().__init__(message)
        self.stderr = stderr
        self.timed_out = timed_out
        self.over_cap = over_cap  # stopped because the folder it writes grew past its cap


@dataclass(frozen=True)
class Repository:
    """A clone with a working tree, named by its root folder (the one holding `.git`)."""

    root: Path

    def git(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        input_bytes: bytes | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> bytes:
        return run_git(
            list(args),
            git_dir=self.root / ".git",
            work_tree=self.root,
            env=env,
            input_bytes=input_bytes,
            timeout_s=timeout_s,
        )


def find_repository(start: Path) -> Repository | None:
    """The clone holding `start`: the nearest folder at or above it with a `.git` folder or
    file (a worktree), or None. Only `.git` counts: a folder that merely looks like a bare
    repository (taxonomy/HEAD, objects/, refs/) never does."""
    folder = Path(start).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / ".git").is_dir() or (candidate / ".git").is_file():
            return Repository(candidate)
    return None


def run_git(
    args: list[str],
    *,
    git_dir: Path,
    work_tree: Path | None = None,
    protocols: tuple[str, ...] = (),
    config: Mapping[str, str] | None = None,
    env: Mapping[str, str] | None = None,
    input_bytes: bytes | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    max_growth: tuple[Path, int] | None = None,
) -> bytes:
    """git's stdout for `args` on the repository at `git_dir`; GitFailed when it fails.

    `protocols` are the transports a fetch may use (none by default), `config` adds `-c`
    settings, `env` adds variables of the caller's choosing (e.g. GIT_INDEX_FILE).
    `max_growth` (folder, bytes): the process is stopped once the folder holds that many
    bytes more than when it started (a fetch, whose objects arrive as they download)."""
    settings = {**HARDENING, **{f"protocol.{name}.allow": "always" for name in protocols}, **(config or {})}
    command = ["git", *(item for key, value in settings.items() for item in ("-c", f"{key}={value}"))]
    command.append(f"--git-dir={git_dir}")
    if work_tree is not None:
        command.append(f"--work-tree={work_tree}")
    try:
        process = subprocess.Popen(
            command + list(args),
            env={**hardened_env(protocols), **(env or {})},
            cwd=work_tree,
            stdin=subprocess.PIPE if input_bytes is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    except OSError as error:
        raise GitFailed(f"git cannot run: {error.strerror}") from None
    with process:
        stdout, stderr = _communicate(process, input_bytes, timeout_s, max_growth)
    if process.returncode != 0:
        message = stderr.decode("utf-8", "replace")
        raise GitFailed(last_line(message) or f"git {args[0]} exited with {process.returncode}", message)
    return stdout


_POLL_S = 0.05


def _communicate(
    process: subprocess.Popen[bytes], input_bytes: bytes | None, timeout_s: float, max_growth: tuple[Path, int] | None
) -> tuple[bytes, bytes]:
    """The process's output once it ends; GitFailed (and the process killed) past its time or
    once the watched folder grew past its cap (watched from a thread: communicate() cannot be
    resumed with input left to send)."""
    grown = threading.Event()
    finished = threading.Event()
    if max_growth is not None:
        folder, cap = max_growth
        start_size = folder_bytes(folder)

        def watch() -> None:
            while not finished.wait(_POLL_S):
                if folder_bytes(folder) - start_size > cap:
                    grown.set()
                    process.kill()
                    return

        threading.Thread(target=watch, daemon=True).start()
    try:
        stdout, stderr = process.communicate(input_bytes, timeout=timeout_s)
    except subprocess.TimeoutExpired:
        _stop(process)
        raise GitFailed(f"timed out after {timeout_s:g} s", timed_out=True) from None
    finally:
        finished.set()
    if max_growth is not None and (grown.is_set() or folder_bytes(max_growth[0]) - start_size > max_growth[1]):
        raise GitFailed(f"stopped: it wrote more than the cap of {max_growth[1]} bytes", over_cap=True)
    return stdout, stderr


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.kill()
    process.communicate()


def folder_bytes(folder: Path) -> int:
    """Bytes of the files under a folder (links not followed)."""
    total = 0
    for current, _dirnames, filenames in os.walk(folder):
        for name in filenames:
            try:
                total += os.lstat(os.path.join(current, name)).st_size
            except OSError:
                continue  # a temporary file renamed while we looked
    return total


def batch_request(object_ids: list[str]) -> bytes:
    """stdin for `git cat-file --batch`: one object id a line."""
    return "".join(f"{object_id}\n" for object_id in object_ids).encode()


def parse_batch(output: bytes) -> dict[str, bytes]:
    """`git cat-file --batch` output: '<id> <type> <size>\\n<bytes>\\n' per object found
    ('<id> missing\\n' for one that is not) -> {id: bytes}."""
    blobs, position = {}, 0
    while position < len(output):
        end = output.index(b"\n", position)
        header = output[position:end].decode().split()
        position = end + 1
        if len(header) != 3:  # '<id> missing'
            continue
        object_id, _kind, size = header
        blobs[object_id] = output[position : position + int(size)]
        position += int(size) + 1
    return blobs


def hardened_env(protocols: tuple[str, ...] = ()) -> dict[str, str]:
    """The whole environment of a git process: the few kept variables, none of the caller's
    GIT_*, no system or global config, no prompts."""
    env = {name: os.environ[name] for name in KEPT_ENV if name in os.environ}
    env.update(
        {
            "GIT_ALLOW_PROTOCOL": ":".join(protocols),
            "GIT_CONFIG_GLOBAL": os.devnull,
            "GIT_CONFIG_NOSYSTEM": "1",
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_LFS_SKIP_SMUDGE": "1",
            "GIT_NO_REPLACE_OBJECTS": "1",
            "GIT_NO_LAZY_FETCH": "1",
            "HOME": os.devnull,
            "LC_ALL": "C",
        }
    )
    return env


def last_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    return printable(lines[-1]) if lines else ""


def printable(text: str, limit: int = 200) -> str:
    """Words from git or a remote, safe for a terminal or a PR comment: no control
    characters, short."""
    cleaned = "".join(char if char.isprintable() else "?" for char in text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"
