"""Checkpoints without pickle: the trainable weights and the optimizer's tensors as safetensors,
everything else (optimizer hyperparameters, scheduler, step, log) as JSON, the RNG states as
uint8 tensors. A checkpoint folder appears under its final name only when complete
(atomic_dir), so the newest `step-*` folder is always a whole one.

Tensors are gathered as full (unsharded) tensors with torch.distributed.checkpoint's
state-dict helpers, which work the same for a plain model and an FSDP2-sharded one; loading
hands each rank its shard. Every rank reads the files, so across nodes the output folder
must be on shared storage.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from taxon.core.store import atomic_dir, atomic_write_json
from taxon.train.distributed import Context, all_gather_objects, barrier

CHECKPOINTS_NAME = "checkpoints"
STATE_NAME = "state.json"


def _rng_state(context: Context) -> dict[str, Any]:
    import torch

    state = {"cpu": torch.get_rng_state()}
    if context.device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(context.device)
    return state


def _flatten_optimizer(optimizer_state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """({"fqn/key": tensor}, JSON-able rest) of a full optimizer state dict keyed by parameter name."""
    import torch

    tensors: dict[str, Any] = {}
    scalars: dict[str, Any] = {}
    for fqn, values in optimizer_state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{fqn}/{key}"] = value.contiguous()
            else:
                scalars.setdefault(fqn, {})[key] = value
    return tensors, {"param_groups": optimizer_state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, Any], rest: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = {fqn: dict(values) for fqn, values in rest["scalars"].items()}
    for name, tensor in tensors.items():
        fqn, key = name.rsplit("/", 1)
        state.setdefault(fqn, {})[key] = tensor
    return {"state": state, "param_groups": rest["param_groups"]}


def save(
    root: Path,
    step: int,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    state: dict[str, Any],
    context: Context,
    keep: int,
) -> Path:
    """Write checkpoint `step` under root (collective: every rank calls it); rank 0 writes."""
    from safetensors.torch import save_file
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

    from taxon.train.model import trained_weights

    weights = trained_weights(model)
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    optimizer_state = get_optimizer_state_dict(model, optimizer, options=options)
    rng_states = all_gather_objects(_rng_state(context), context)
    final = Path(root) / f"step-{step:08d}"
    if context.is_main:
        with atomic_dir(final) as folder:
            save_file({name: tensor.contiguous() for name, tensor in weights.items()}, folder / "model.safetensors")
            tensors, rest = _flatten_optimizer(optimizer_state)
            save_file(tensors, folder / "optimizer.safetensors")
            (folder / "optimizer.json").write_text(json.dumps(rest), encoding="utf-8")
            rng = {
                f"rank{rank}.{kind}": value for rank, states in enumerate(rng_states) for kind, value in states.items()
            }
            save_file(rng, folder / "rng.safetensors")
            atomic_write_json(folder / STATE_NAME, {**state, "step": step, "scheduler": scheduler.state_dict()})
        for stale in sorted(Path(root).glob("step-*"))[:-keep]:
            shutil.rmtree(stale, ignore_errors=True)
    barrier(context)
    return final


def latest(root: Path, run_key: str) -> Path | None:
    """The newest complete checkpoint of this run (same data, model and settings), if any."""
    for folder in sorted(Path(root).glob("step-*"), reverse=True):
        try:
            state = json.loads((folder / STATE_NAME).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if state.get("run_key") == run_key:
            return folder
    return None


def load(folder: Path, model: Any, optimizer: Any, scheduler: Any, context: Context) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and this rank's RNG; return the saved state."""
    import torch
    from safetensors.torch import load_file
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict, set_optimizer_state_dict

    options = StateDictOptions(full_state_dict=True, strict=False)
    set_model_state_dict(model, load_file(folder / "model.safetensors"), options=options)
    rest = json.loads((folder / "optimizer.json").read_text(encoding="utf-8"))
    optimizer_state = _unflatten_optimizer(load_file(folder / "optimizer.safetensors"), rest)
    set_optimizer_state_dict(model, optimizer, optimizer_state, options=options)
    state: dict[str, Any] = json.loads((folder / STATE_NAME).read_text(encoding="utf-8"))
    scheduler.load_state_dict(state["scheduler"])
    rng = load_file(folder / "rng.safetensors")
    if f"rank{context.rank}.cpu" in rng:
        torch.set_rng_state(rng[f"rank{context.rank}.cpu"])
    if f"rank{context.rank}.cuda" in rng and context.device.type == "cuda":
        torch.cuda.set_rng_state(rng[f"rank{context.rank}.cuda"], context.device)
    return state
