"""`train.nproc_per_node` > 1: the pipeline launches torchrun (FSDP, gloo on CPU) itself, with
the run's resolved config. (That FSDP ends where one process does, with dropout off, is
tests/train's test; here each rank draws its own dropout masks.)"""

import json

import pytest
import torch

from support.pipeline_runs import adapter_weights, run_dir, run_in_process, stage_statuses

pytestmark = [pytest.mark.xdist_group("pipeline"), pytest.mark.slow]


def test_the_pipeline_trains_under_torchrun(copy_reference, reference, monkeypatch, capsys):
    repo = copy_reference(("validate", "generate"))
    code, out, err = run_in_process(repo, monkeypatch, capsys, "--to", "train", "--set", "train.nproc_per_node=2")
    assert code == 0, out + err
    assert stage_statuses(out)["train"] == "done"
    result = json.loads((run_dir(repo) / "train" / "result.json").read_text())
    assert result["world_size"] == 2
    assert json.loads((run_dir(repo) / "config.json").read_text())["train"]["nproc_per_node"] == 2
    sharded, single = adapter_weights(run_dir(repo) / "train"), adapter_weights(reference.run / "train")
    assert sharded.keys() == single.keys()
    assert all(torch.isfinite(tensor).all() for tensor in sharded.values())
    assert (run_dir(repo) / "train" / "model" / "model.safetensors").is_file()
