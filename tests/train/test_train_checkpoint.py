import json
from dataclasses import replace

import torch
from safetensors.torch import load_file
from train_setup import small_config

from taxon.train import checkpoint
from taxon.train.distributed import Context
from taxon.train.loop import make_optimizer
from taxon.train.model import build

CPU = Context(rank=0, world=1, local_rank=0, device=torch.device("cpu"))


def trained_a_step(tiny_model_dir, train_config):
    model = build(str(tiny_model_dir), replace(train_config, seed=1), "cpu")
    optimizer, scheduler = make_optimizer(model, train_config, total_steps=10)
    model(input_ids=torch.tensor([[5, 6, 7, 8]])).logits.float().pow(2).mean().backward()
    optimizer.step()
    scheduler.step()
    return model, optimizer, scheduler


def test_a_checkpoint_restores_weights_optimizer_scheduler_and_rng_without_pickle(tmp_path, tiny_model_dir):
    train_config = small_config().train
    model, optimizer, scheduler = trained_a_step(tiny_model_dir, train_config)
    torch.manual_seed(123)
    folder = checkpoint.save(tmp_path, 1, model, optimizer, scheduler, {"run_key": "k", "log": []}, CPU, keep=2)
    assert {path.suffix for path in folder.iterdir()} == {".safetensors", ".json"}
    saved = load_file(folder / "model.safetensors")
    assert saved and all("lora_" in name for name in saved)  # not the frozen base, nor its tied head
    expected_random = torch.rand(3)

    fresh = build(str(tiny_model_dir), replace(train_config, seed=2), "cpu")
    fresh_optimizer, fresh_scheduler = make_optimizer(fresh, train_config, total_steps=10)
    state = checkpoint.load(folder, fresh, fresh_optimizer, fresh_scheduler, CPU)
    assert state["step"] == 1 and state["run_key"] == "k"
    for (name, tensor), (_, restored) in zip(model.named_parameters(), fresh.named_parameters()):
        assert torch.equal(tensor, restored), name
    for group, restored in zip(
        optimizer.state_dict()["state"].values(), fresh_optimizer.state_dict()["state"].values()
    ):
        for key in group:
            assert torch.equal(group[key], restored[key])
    assert fresh_scheduler.get_last_lr() == scheduler.get_last_lr()
    assert torch.equal(torch.rand(3), expected_random)


def test_resume_picks_the_newest_complete_checkpoint_of_the_same_run(tmp_path):
    for step, key in ((4, "mine"), (8, "mine"), (12, "another run")):
        folder = tmp_path / f"step-{step:08d}"
        folder.mkdir()
        (folder / checkpoint.STATE_NAME).write_text(json.dumps({"run_key": key, "step": step}))
    (tmp_path / ".step-00000016.abc.partial").mkdir()  # a killed write
    (tmp_path / "step-00000020").mkdir()  # no state: not a checkpoint
    assert checkpoint.latest(tmp_path, "mine") == tmp_path / "step-00000008"
    assert checkpoint.latest(tmp_path, "nobody") is None
