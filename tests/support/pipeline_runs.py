"""A repository folder for `taxon pipeline` runs: three leaves of the seed taxonomy, a
taxon.toml shrunk for the tiny model, and a scripted OpenAI-compatible teacher server that
counts requests, signals at a count, and can go down."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import tomllib
from http.server import ThreadingHTTPServer
from pathlib import Path

from support.git import git
from support.scripted_openai import ScriptedServer
from taxon.publish import verify_bundle

REPO = Path(__file__).resolve().parents[2]
TAXON = Path(sys.executable).parent / "taxon"  # the console script of the environment running the tests
LEAVES = (
    "knowledge/science/fictional_species/marrowick_finch",  # in-tree document.md
    "compositional_skills/linguistics/plural_nouns",
    "foundational_skills/reasoning/arithmetic/odd_or_even",
)
PROBE = [
    {"id": "p1", "question": "What is 7 plus 5?", "choices": ["11", "12", "13"], "answer": 1},
    {"id": "p2", "question": "Is 9 odd or even?", "choices": ["odd", "even"], "answer": 0},
    {"id": "p3", "question": "What is the plural of cat?", "choices": ["cat", "cates", "cats"], "answer": 2},
]


class PipelineServer(ScriptedServer):
    """The scripted teacher over HTTP (no loglikelihood scoring), on a free port or `port`.
    `reached` is set once `signal_at` chat requests were served; from `down_after` on, every
    request gets a 503; after `stop_after` the server stops listening (connections refused)."""

    def __init__(self, down_after: int | None = None, stop_after: int | None = None, port: int = 0):
        self.signal_at, self.down_after, self.stop_after = None, down_after, stop_after
        self.reached = threading.Event()
        self.prompts: list[str] = []  # the last user turn of every chat request served
        self.in_flight = 0
        super().__init__(loglikelihood=False)
        if port:  # back at the address of a server that went away
            self.http.server_close()
            self.http = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
            self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return self.http.server_address[1]

    def _stop_listening(self) -> None:
        self.http.shutdown()
        self.http.server_close()

    def settle(self, timeout_s: float = 60) -> int:
        """Wait until the requests of a killed client are all answered (or dropped), then
        return the count: requests it had sent still arrive after its death."""
        deadline = time.monotonic() + timeout_s
        last = -1
        while time.monotonic() < deadline:
            with self.lock:
                count, busy = self.chat_requests, self.in_flight
            if not busy and count == last:
                return count
            last = count
            time.sleep(0.05)
        raise TimeoutError("the teacher server stayed busy")

    def _handler(self):
        scripted = super()._handler()
        server = self

        class Handler(scripted):
            def do_POST(self):
                with server.lock:
                    server.in_flight += 1
                try:
                    self._post()
                finally:
                    with server.lock:
                        server.in_flight -= 1

            def _post(self):
                raw = self.rfile.read(int(self.headers["Content-Length"]))
                try:
                    body = json.loads(raw)
                except ValueError:  # the client was killed while sending
                    return
                with server.lock:
                    down = server.down_after is not None and server.chat_requests >= server.down_after
                if down:
                    return self._reply(503, {"error": "the teacher is down"})
                if self.path.endswith("/chat/completions"):
                    server.prompts.append(body["messages"][-1]["content"])
                self.rfile = io.BytesIO(raw)  # for the scripted handler, which reads the body itself
                super().do_POST()
                if server.signal_at is not None and server.chat_requests >= server.signal_at:
                    server.reached.set()
                if server.stop_after is not None and server.chat_requests >= server.stop_after:
                    server.stop_after = None
                    threading.Thread(target=server._stop_listening).start()

        return Handler


def toml_text(table: dict, prefix: str = "") -> str:
    """A small TOML writer for the config's shapes: tables of strings, numbers, booleans and lists."""
    lines, subtables = [], []
    for key, value in table.items():
        if isinstance(value, dict):
            subtables.append((key, value))
        else:
            lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
    header = prefix and (lines or not subtables)  # an empty table still exists ([profiles.cpu])
    text = (f"[{prefix}]\n" if header else "") + "".join(line + "\n" for line in lines)
    for key, value in subtables:
        text += "\n" + toml_text(value, f"{prefix}.{key}" if prefix else key)
    return text


def _toml_key(key: str) -> str:
    """A bare key where TOML allows one, else quoted (a URL in [documents.mirrors])."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def pipeline_config(base_url: str, model_dir: Path) -> dict:
    """The repo's taxon.toml with every stage shrunk: a few teacher calls per leaf, a few
    training steps with checkpoints, a small probe, a permissive gate. Cache folders are
    relative, so two repo folders run with the very same config."""
    config = tomllib.loads((REPO / "taxon.toml").read_text(encoding="utf-8"))
    overrides = {
        "models": {"base": str(model_dir), "cache_dir": ".taxon-cache/models"},
        "documents": {"cache_dir": ".taxon-cache/documents", "chunk_tokens": 200, "chunk_overlap": 20},
        "generate": {
            "backend": "openai",
            "teacher": "scripted",
            "cache_dir": ".taxon-cache/generate",
            "chunk_tokenizer": str(model_dir),
            "questions_per_seed": 1,
            "contexts_per_seed": 1,
            "questions_per_chunk": 2,
            "seeds_per_chunk": 1,
            "judge": "generated",
            "judge_min_score": 4,
            "on_topic_min_overlap": 0.0,
            "batch_size": 16,
            "leaves_per_batch": 8,
            "max_new_tokens": 32,
        },
        "teacher": {"base_url": base_url, "concurrency": 4, "timeout_s": 10, "retries": 1, "backoff_s": 0.05},
        "train": {
            "method": "lora",  # these runs compare adapters; full fine-tuning is tests/train's
            "epochs": 1,
            "max_steps": 4,
            "pack_tokens": 128,
            "max_sample_tokens": 128,
            "rows_per_step": 2,
            "lora_rank": 4,
            "lora_alpha": 8,
            "autocast": "none",
            "checkpoint_every": 1,
            "keep_checkpoints": 2,
            "threads": 1,
            "learning_rate": 1e-2,
        },
        "evaluate": {
            "max_per_leaf": 4,
            "max_new_tokens": 4,
            "batch_size": 16,
            "n_resamples": 50,
            "probe_file": "probe.jsonl",
            "gate": {"probe_max_drop": 1e9, "text_max_loss_rise": 1e9, "changed_must_improve": False},
        },
        "publish": {"require_passed_gate": True, "hub_staging_dir": ".taxon-cache/bundles"},
    }
    for section, values in overrides.items():
        for key, value in values.items():
            if isinstance(value, dict):
                config[section].setdefault(key, {}).update(value)
            else:
                config[section][key] = value
            for profile in config.get("profiles", {}).values():  # the shrunk value wins under --profile too
                profile.get(section, {}).pop(key, None)
    return config


def make_repo(
    folder: Path, base_url: str, model_dir: Path, leaves: tuple[str, ...] = LEAVES, config: dict | None = None
) -> Path:
    """A repository folder: taxonomy/ with the leaves, probe.jsonl and taxon.toml (`config`,
    else pipeline_config's)."""
    folder.mkdir(parents=True, exist_ok=True)
    for leaf in leaves:
        shutil.copytree(REPO / "taxonomy" / leaf, folder / "taxonomy" / leaf)
    (folder / "probe.jsonl").write_text("".join(json.dumps(row) + "\n" for row in PROBE), encoding="utf-8")
    config = config or pipeline_config(base_url, model_dir)
    (folder / "taxon.toml").write_text(toml_text(config), encoding="utf-8")
    return folder


def make_upstream(
    folder: Path, base_url: str, model_dir: Path, leaves: tuple[str, ...] = LEAVES, **generate: object
) -> Path:
    """The repository the workflows' jobs clone: make_repo's folder in a git repository on main
    (nothing committed yet), whose gpu profile is the tiny CPU setup too (`generate`: more
    [generate] settings), with a .gitignore of what the jobs write."""
    config = pipeline_config(base_url, model_dir)
    config["generate"].update(generate)
    config["profiles"] = {"cpu": {}, "gpu": {}}
    make_repo(folder, base_url, model_dir, leaves, config)
    git(folder, "init", "-q", "-b", "main")
    (folder / ".gitignore").write_text("runs/\n.taxon-cache/\ndist/\n")
    return folder


def cli_env() -> dict:
    return {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "HF_HUB_OFFLINE": "1",
        "COLUMNS": "200",
    }


def pipeline_command(*flags: str) -> list[str]:
    return [str(TAXON), "pipeline", "--quiet", "--set", "train.threads=1", *flags]


def run_pipeline_cli(repo: Path, *flags: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        pipeline_command(*flags), cwd=repo, env=cli_env(), capture_output=True, text=True, timeout=timeout
    )


def start_pipeline(repo: Path, *flags: str) -> subprocess.Popen:
    return subprocess.Popen(
        pipeline_command(*flags), cwd=repo, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def run_in_process(repo: Path, monkeypatch, capsys, *flags: str) -> tuple[int, str, str]:
    """`taxon pipeline` through taxon.cli.main in this process: (exit code, stdout, stderr)."""
    from taxon.cli import main

    monkeypatch.chdir(repo)
    monkeypatch.setenv("COLUMNS", "200")
    code = main(["pipeline", "--quiet", "--set", "train.threads=1", *flags])
    out, err = capsys.readouterr()
    return code, out, err


def run_dir(repo: Path) -> Path:
    return repo / "runs" / "cpu"


def sample_files(generate_dir: Path) -> dict[str, str]:
    """sha256 of every leaf's samples.jsonl and dropped.jsonl, by path under the folder."""
    return {
        path.relative_to(generate_dir).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
        for pattern in ("**/samples.jsonl", "**/dropped.jsonl")
        for path in sorted(generate_dir.glob(pattern))
    }


def adapter_weights(train_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(train_dir / "adapter" / "adapter_model.safetensors")


def assert_same_adapter(first: Path, second: Path) -> None:
    import torch

    one, two = adapter_weights(first), adapter_weights(second)
    assert one.keys() == two.keys()
    for name in one:
        assert torch.allclose(one[name], two[name], atol=1e-5), name


def stage_statuses(stdout: str) -> dict[str, str]:
    """stage -> status from the closing table's rows."""
    statuses = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.replace("│", "|").split("|")]
        if len(cells) > 3 and cells[1] in ("validate", "generate", "train", "evaluate", "publish"):
            statuses[cells[1]] = cells[2]
    return statuses


class BundleWatcher:
    """Polls <run>/bundle during a run: whenever it is there, it must be whole (SHA256SUMS
    present and verifying). A bundle replaced while being read is looked at again, not blamed."""

    def __init__(self, bundle: Path):
        self.bundle = bundle
        self.problems: list[str] = []
        self.looks = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def __enter__(self) -> BundleWatcher:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()

    def _watch(self) -> None:
        while not self.stop.is_set():
            try:
                identity = os.stat(self.bundle).st_ino
            except FileNotFoundError:
                time.sleep(0.002)
                continue
            problems = verify_bundle(self.bundle)
            try:
                unchanged = os.stat(self.bundle).st_ino == identity
            except FileNotFoundError:
                unchanged = False
            self.looks += 1
            if problems and unchanged:
                self.problems += problems
