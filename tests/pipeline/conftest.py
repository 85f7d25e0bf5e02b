"""One scripted teacher server and one uninterrupted reference run per session: the fault
tests compare their resumed runs with it, the other tests start from copies of it."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from support.pipeline_runs import PipelineServer, make_repo, run_dir, run_pipeline_cli


@dataclass
class Reference:
    repo: Path
    calls: int  # chat requests the whole run sent to the teacher
    stdout: str

    @property
    def run(self) -> Path:
        return run_dir(self.repo)


@pytest.fixture(scope="session")
def teacher():
    with PipelineServer() as server:
        yield server


@pytest.fixture(scope="session")
def reference(tmp_path_factory, teacher, tiny_model_dir) -> Reference:
    repo = make_repo(tmp_path_factory.mktemp("reference") / "repo", teacher.base_url, tiny_model_dir)
    before = teacher.chat_requests
    completed = run_pipeline_cli(repo)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return Reference(repo, teacher.chat_requests - before, completed.stdout)


@pytest.fixture
def copy_reference(tmp_path, reference):
    """copy(stages, unit_cache=False): a repo folder with the reference's taxonomy and config,
    and its run folder's outputs and markers of the given stages (as if they had just run)."""
    outputs = {
        "validate": [],
        "generate": ["generate"],
        "train": ["train"],
        "evaluate": ["evaluate"],
        "publish": ["bundle"],
    }

    def copy(stages: tuple[str, ...] = (), unit_cache: bool = False) -> Path:
        repo = tmp_path / "repo"
        repo.mkdir()
        for name in ("taxonomy", "taxon.toml", "probe.jsonl"):
            source = reference.repo / name
            (shutil.copytree if source.is_dir() else shutil.copy2)(source, repo / name)
        if unit_cache:
            shutil.copytree(reference.repo / ".taxon-cache" / "generate", repo / ".taxon-cache" / "generate")
        for stage in stages:
            for folder in outputs[stage]:
                shutil.copytree(reference.run / folder, run_dir(repo) / folder)
            (run_dir(repo) / "stages").mkdir(parents=True, exist_ok=True)
            shutil.copy2(reference.run / "stages" / f"{stage}.json", run_dir(repo) / "stages" / f"{stage}.json")
        return repo

    return copy
