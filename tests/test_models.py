"""Model specs: local folders, hub ids (offline-aware) and the packaged SmolLM2, prepared
once from its GGUF file into a plain safetensors folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taxon.backends import models
from taxon.backends.models import PACKAGED, PackagedModel, packaged_model_dir, resolve_model
from taxon.cli import main
from taxon.core.errors import TaxonError, UsageError
from taxon.core.settings import ModelsSettings


def config_with_cache(tmp_path) -> ModelsSettings:
    return ModelsSettings(cache_dir=str(tmp_path / "models"))


def test_a_local_folder_resolves_to_itself(tiny_model_dir, tmp_path):
    assert resolve_model(str(tiny_model_dir), config_with_cache(tmp_path)) == str(tiny_model_dir)


def test_hub_id_offline_and_not_cached_is_a_clear_error(tmp_path, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(TaxonError, match="HF_HUB_OFFLINE") as error:
        resolve_model("taxon-tests/no-such-model", config_with_cache(tmp_path))
    assert error.value.hint
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    assert resolve_model("taxon-tests/no-such-model", config_with_cache(tmp_path)) == "taxon-tests/no-such-model"


@pytest.mark.parametrize("spec", ["./no/such/folder", "/no/such/folder", "not a model!", "packaged:nope"])
def test_bad_specs_are_usage_errors(spec, tmp_path):
    with pytest.raises(UsageError):
        resolve_model(spec, config_with_cache(tmp_path))


def test_missing_package_says_make_install(tmp_path, monkeypatch):
    monkeypatch.setitem(
        PACKAGED, "smollm2", PackagedModel("taxon_no_such_package", "no-such-package", "x.gguf", "bfloat16")
    )
    with pytest.raises(TaxonError) as error:
        resolve_model("packaged:smollm2", config_with_cache(tmp_path))
    assert "no-such-package" in str(error.value) and "make install" in error.value.hint


def test_model_path_names_the_content_addressed_folder_without_preparing(tmp_path, capsys, repo_root):
    cache = tmp_path / "models"
    folder = packaged_model_dir("smollm2", cache)

    code = main(
        [
            "model",
            "path",
            "packaged:smollm2",
            "--config",
            str(repo_root / "taxon.toml"),
            "--set",
            f"models.cache_dir={cache}",
        ]
    )

    assert code == 1 and capsys.readouterr().out.strip() == str(folder)
    assert folder.parent == cache and folder.name.startswith("smollm2-") and not folder.exists()


@pytest.mark.slow
def test_prepared_packaged_model_matches_the_gguf_and_answers(tmp_path, capsys, repo_root):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    cache = tmp_path / "models"
    code = main(["model", "prepare", "--config", str(repo_root / "taxon.toml"), "--set", f"models.cache_dir={cache}"])
    folder = capsys.readouterr().out.strip()

    assert code == 0 and folder == resolve_model("packaged:smollm2", config_with_cache(tmp_path))
    record = json.loads((Path(folder) / models.PREPARED_RECORD).read_text())
    assert record["max_logit_difference"] <= models.LOGIT_TOLERANCE  # saved copy vs GGUF-loaded, same prompt
    names = {path.name for path in Path(folder).iterdir()}
    assert {"model.safetensors", "config.json", "generation_config.json", "tokenizer.json"} <= names
    assert not {name for name in names if name.endswith((".bin", ".pt", ".pkl", ".pth"))}

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": models.CHECK_PROMPT}],
        add_generation_prompt=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.no_grad():
        output = model.generate(**inputs, max_new_tokens=12, do_sample=False)
    assert "Paris" in tokenizer.decode(output[0, inputs["input_ids"].shape[1] :], skip_special_tokens=True)
