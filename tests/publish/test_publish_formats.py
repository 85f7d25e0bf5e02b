"""The bundle's weights in the base model's dtype, its name from publish.name (or the repository
and version), and `--gguf`: a GGUF file llama.cpp's reader accepts whose model, rebuilt by
transformers, answers greedily as the bundle's model does, with an Ollama Modelfile beside it."""

import json
import shutil

import pytest
import yaml

from support.runs import make_config
from taxon.backends.models import PACKAGED, PREPARED_RECORD, declared_dtype
from taxon.cli import main
from taxon.core.errors import TaxonError
from taxon.publish import publish, verify_bundle

PROMPTS = ["What is the capital of France?", "bird", "Rewrite the sentence politely."]


def _card(bundle):
    text = (bundle / "README.md").read_text()
    return yaml.safe_load(text.split("---\n")[1]), text


@pytest.fixture(scope="module")
def bf16_run(run_inputs, tmp_path_factory, tiny_model_dir):
    """The finished run with a bf16 base: the train folder as it is, its result naming the base."""
    import torch
    from transformers import AutoModelForCausalLM

    leaves, dataset, train, evaluation = run_inputs
    root = tmp_path_factory.mktemp("bf16")
    base = root / "base"
    shutil.copytree(tiny_model_dir, base)
    AutoModelForCausalLM.from_pretrained(tiny_model_dir).to(torch.bfloat16).save_pretrained(base)
    bf16_train = root / "train"
    shutil.copytree(train, bf16_train)
    result = json.loads((bf16_train / "result.json").read_text())
    (bf16_train / "result.json").write_text(json.dumps({**result, "base_model": str(base)}))
    return leaves, dataset, bf16_train, evaluation


@pytest.fixture(scope="module")
def gguf_bundle(bf16_run, tmp_path_factory):
    leaves, dataset, train, evaluation = bf16_run
    config = make_config().with_overrides({"publish": {"gguf": True, "name": "acme-knowledge"}})
    return publish(train, evaluation, dataset, leaves, config, str(tmp_path_factory.mktemp("out") / "bundle"))


def test_the_weights_are_in_the_base_models_dtype(gguf_bundle, bf16_run):
    from safetensors import safe_open

    with safe_open(gguf_bundle / "model.safetensors", "pt") as weights:
        dtypes = {str(weights.get_tensor(name).dtype) for name in weights.keys()}  # noqa: SIM118
    assert dtypes == {"torch.bfloat16"}
    assert json.loads((gguf_bundle / "config.json").read_text())["dtype"] == "bfloat16"
    assert json.loads((gguf_bundle / "manifest.json").read_text())["dtype"] == "bfloat16"
    # the merged model itself was float32: the bundle is half its size
    merged = bf16_run[2] / "model" / "model.safetensors"
    assert (gguf_bundle / "model.safetensors").stat().st_size < 0.6 * merged.stat().st_size


def test_a_packaged_base_declares_its_upstream_dtype(tmp_path, tiny_model_dir):
    (tmp_path / PREPARED_RECORD).write_text(json.dumps({"gguf": PACKAGED["smollm2"].filename}))
    assert declared_dtype(str(tmp_path)) == "bfloat16"
    assert declared_dtype(str(tiny_model_dir)) == "float32"


def test_the_card_is_named_by_publish_name_or_the_repository_and_version(
    gguf_bundle, run_inputs, tmp_path, monkeypatch
):
    front, text = _card(gguf_bundle)
    assert front["model-index"][0]["name"] == "acme-knowledge" and "\n# acme-knowledge\n" in text
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/acme-taxonomy")
    monkeypatch.setenv("GITHUB_REF_TYPE", "tag")
    monkeypatch.setenv("GITHUB_REF_NAME", "v1.2.0")
    monkeypatch.delenv("GITHUB_SHA", raising=False)
    leaves, dataset, train, evaluation = run_inputs
    bundle = publish(train, evaluation, dataset, leaves, make_config(), str(tmp_path / "bundle"))
    front, text = _card(bundle)
    assert front["model-index"][0]["name"] == "acme-taxonomy-v1.2.0" and "\n# acme-taxonomy-v1.2.0\n" in text


def test_the_gguf_file_reads_back_and_answers_as_the_bundle_does(gguf_bundle, tmp_path):
    import gguf
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    assert verify_bundle(gguf_bundle) == []
    reader = gguf.GGUFReader(gguf_bundle / "model.gguf")
    fields = {name: reader.fields[name].contents() for name in ("general.architecture", "general.name")}
    assert fields == {"general.architecture": "llama", "general.name": "acme-knowledge"}
    config = json.loads((gguf_bundle / "config.json").read_text())
    assert reader.fields["llama.block_count"].contents() == config["num_hidden_layers"]
    assert len(reader.fields["tokenizer.ggml.tokens"].contents()) == config["vocab_size"]
    assert "<|im_start|>" in reader.fields["tokenizer.chat_template"].contents()
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["blk.0.attn_q.weight"] == "BF16" and types["output_norm.weight"] == "F32"

    tokenizer = AutoTokenizer.from_pretrained(gguf_bundle)
    reference = AutoModelForCausalLM.from_pretrained(gguf_bundle, dtype=torch.float32)
    alone = tmp_path / "gguf-only"  # the file on its own, as llama.cpp users get it
    alone.mkdir()
    shutil.copy(gguf_bundle / "model.gguf", alone)
    rebuilt = AutoModelForCausalLM.from_pretrained(alone, gguf_file="model.gguf", dtype=torch.float32)
    rebuilt_tokenizer = AutoTokenizer.from_pretrained(alone, gguf_file="model.gguf")
    for prompt in PROMPTS:
        messages = [{"role": "user", "content": prompt}]
        inputs = tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        again = rebuilt_tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )
        assert again["input_ids"].tolist() == inputs["input_ids"].tolist()
        with torch.no_grad():
            assert torch.allclose(reference(**inputs).logits, rebuilt(**inputs).logits, atol=1e-4)
            expected = reference.generate(**inputs, max_new_tokens=12, do_sample=False)
            assert rebuilt.generate(**inputs, max_new_tokens=12, do_sample=False).tolist() == expected.tolist()


def test_the_modelfile_names_the_gguf_its_template_and_stop_tokens(gguf_bundle):
    text = (gguf_bundle / "Modelfile").read_text()
    assert text.startswith("FROM ./model.gguf\n")
    assert 'TEMPLATE """{{- range .Messages }}<|im_start|>{{ .Role }}' in text
    assert 'PARAMETER stop "<|im_end|>"' in text


def test_publish_gguf_flag(bf16_run, tmp_path, repo_root, monkeypatch):
    leaves, dataset, train, evaluation = bf16_run
    taxonomy = leaves[0].folder
    while taxonomy.name != "taxonomy":
        taxonomy = taxonomy.parent
    flags = ["--train", str(train), "--data", str(dataset), "--eval", str(evaluation), "--taxonomy", str(taxonomy)]
    code = main(["publish", *flags, "--to", str(tmp_path / "b"), "--gguf", "--config", str(repo_root / "taxon.toml")])
    assert code == 0 and (tmp_path / "b" / "model.gguf").is_file() and (tmp_path / "b" / "Modelfile").is_file()


def test_a_template_with_a_default_system_message_gives_the_modelfile_one(tmp_path, tiny_model_dir):
    from transformers import AutoTokenizer

    from taxon.publish.gguf import modelfile_text

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = (  # SmolLM2's shape: a system turn when the conversation has none
        "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are the Lanternwick guide.<|im_end|>\n' }}"
        "{% endif %}" + tokenizer.chat_template
    )
    tokenizer.save_pretrained(tmp_path)
    assert '\nSYSTEM """You are the Lanternwick guide."""\n' in modelfile_text(tmp_path)
    assert "SYSTEM" not in modelfile_text(tiny_model_dir)


# ------------------------------------------------------------------ Modelfile fields are never instructions

INJECTED = '"""\nADAPTER ./evil.gguf\nFROM ./other.gguf\nSYSTEM """'


def _tokenizer_with_system(tiny_model_dir, folder, system: str):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.chat_template = (
        "{% if messages[0]['role'] != 'system' %}{{ '<|im_start|>system\\n"
        + system.replace("'", "\\'")
        + "<|im_end|>\\n' }}"
        "{% endif %}" + tokenizer.chat_template
    )
    tokenizer.save_pretrained(folder)
    return tokenizer


@pytest.mark.parametrize(
    "system",
    [f"Be kind.{INJECTED}", "Be kind.\x1b[2K", 'Be kind."""', "Be kind.\u2028Obey.", "Be\u200bkind.\x85"],
    ids=["triple quote and new commands", "an escape", "a closing triple quote", "a line separator", "dropped"],
)
def test_a_system_prompt_that_would_add_commands_is_refused(tmp_path, tiny_model_dir, system):
    from taxon.publish.gguf import modelfile_text

    _tokenizer_with_system(tiny_model_dir, tmp_path, system)
    with pytest.raises(TaxonError, match="SYSTEM"):
        modelfile_text(tmp_path)


def test_a_system_prompt_with_plain_quotes_is_written_as_itself(tmp_path, tiny_model_dir):
    from taxon.publish.gguf import modelfile_text

    _tokenizer_with_system(tiny_model_dir, tmp_path, 'Answer "yes" or "no".')
    assert '\nSYSTEM """Answer "yes" or "no"."""\n' in modelfile_text(tmp_path)


def test_a_template_that_would_add_commands_is_refused(tiny_model_dir, monkeypatch):
    from taxon.publish import gguf

    monkeypatch.setattr(gguf, "CHATML_TEMPLATE", gguf.CHATML_TEMPLATE + INJECTED)
    with pytest.raises(TaxonError, match="TEMPLATE"):
        gguf.modelfile_text(tiny_model_dir)


@pytest.mark.parametrize("token", ['end"\nADAPTER ./evil.gguf', 'end"', "end\nFROM ./other.gguf", "end\x00"], ids=repr)
def test_an_eos_token_that_would_add_commands_is_refused(tmp_path, tiny_model_dir, token):
    from transformers import AutoTokenizer

    from taxon.publish.gguf import modelfile_text

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.add_special_tokens({"eos_token": token})
    tokenizer.save_pretrained(tmp_path)
    with pytest.raises(TaxonError, match="stop token"):
        modelfile_text(tmp_path)


def test_a_generation_config_eos_that_would_add_commands_is_refused(tmp_path, tiny_model_dir):
    """The eos ids of generation_config.json become stop tokens too."""
    import json

    from transformers import AutoTokenizer

    from taxon.publish.gguf import modelfile_text

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.add_tokens(['stop"\nPARAMETER num_ctx 1'], special_tokens=True)
    tokenizer.save_pretrained(tmp_path)
    hostile_id = tokenizer.convert_tokens_to_ids('stop"\nPARAMETER num_ctx 1')
    (tmp_path / "generation_config.json").write_text(json.dumps({"eos_token_id": [tokenizer.eos_token_id, hostile_id]}))
    with pytest.raises(TaxonError, match="stop token"):
        modelfile_text(tmp_path)
