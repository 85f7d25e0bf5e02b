import hashlib
import json
import os
import shutil
import zipfile

import pytest

from support.runs import make_config
from taxon.cli import main
from taxon.publish import publish, verify_bundle
from taxon.publish.verify import is_pickle, parse_size, shard_problems, sums_digest


@pytest.fixture
def bundle(run_inputs, tmp_path):
    leaves, dataset, train, evaluation = run_inputs
    return publish(train, evaluation, dataset, leaves, make_config(), str(tmp_path / "bundle"))


def test_one_changed_byte_is_caught(bundle):
    weights = bundle / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    problems = verify_bundle(bundle)
    assert "model.safetensors: checksum mismatch (the file changed after publishing)" in problems
    assert "model.safetensors: sha256 differs from manifest.json" in problems


def test_a_pickle_bin_file_is_caught(bundle):
    import torch

    torch.save({"weight": torch.zeros(2)}, bundle / "pytorch_model.bin")
    problems = verify_bundle(bundle)
    assert any(p.startswith("pytorch_model.bin: a pickle-format file type") for p in problems)
    assert "pytorch_model.bin: not listed in SHA256SUMS" in problems


def test_pickle_content_is_caught_whatever_the_file_is_called(bundle):
    import pickle

    import torch

    (bundle / "notes.dat").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    torch.save({"weight": torch.zeros(2)}, bundle / "extra.safetensors")
    problems = verify_bundle(bundle)
    assert "notes.dat: pickle content is not allowed; use safetensors" in problems
    assert "extra.safetensors: pickle content is not allowed; use safetensors" in problems


def test_is_pickle_tells_pickles_from_safetensors_and_plain_zips(bundle, tmp_path):
    assert not is_pickle(bundle / "model.safetensors") and not is_pickle(bundle / "README.md")
    with zipfile.ZipFile(tmp_path / "plain.zip", "w") as archive:
        archive.writestr("readme.txt", "hello")
    with zipfile.ZipFile(tmp_path / "model.zip", "w") as archive:
        archive.writestr("archive/data.pkl", b"\x80\x02}q\x00.")
    assert not is_pickle(tmp_path / "plain.zip") and is_pickle(tmp_path / "model.zip")


def test_the_manifest_must_match_the_files(bundle):
    (bundle / "adapter" / "adapter_model.safetensors").unlink()
    shutil.rmtree(bundle / "eval")
    problems = verify_bundle(bundle)
    assert "adapter/adapter_model.safetensors: in manifest.json but missing" in problems
    assert "adapter/adapter_model.safetensors: the adapter file is missing" in problems
    assert "eval/report.json: listed in SHA256SUMS but missing" in problems


def test_a_card_without_front_matter_and_a_missing_checksum_list_are_caught(bundle):
    (bundle / "SHA256SUMS").unlink()
    (bundle / "README.md").write_text("# a model\n")
    problems = verify_bundle(bundle)
    assert "SHA256SUMS is missing" in problems and "README.md: no YAML front matter" in problems


def test_taxon_verify_exits_1_with_the_problems(bundle, capsys):
    assert main(["verify", str(bundle)]) == 0
    assert "ok:" in capsys.readouterr().out
    (bundle / "config.json").write_text("{}")
    assert main(["verify", str(bundle)]) == 1
    assert "config.json: checksum mismatch" in capsys.readouterr().err
    assert main(["verify", str(bundle / "nowhere")]) == 1


def test_links_are_caught(bundle, tmp_path):
    (tmp_path / "secret.txt").write_text("outside the bundle")
    (bundle / "notes.txt").symlink_to(tmp_path / "secret.txt")
    assert verify_bundle(bundle) == [
        "notes.txt: links, FIFOs and devices are not allowed in a bundle (regular files only)"
    ]


def test_weight_shards_over_the_recorded_limit_are_caught():
    manifest = {"config": {"publish": {"max_shard_size": "1KB"}}}
    assert shard_problems(manifest, {"model.safetensors": 1000, "model-2.safetensors": 1001}) == [
        "model-2.safetensors: 1001 bytes, over the shard limit 1KB"
    ]
    assert shard_problems({"config": {"publish": {"max_shard_size": "huge"}}}, {}) == [
        "manifest.json: publish.max_shard_size: not a size: 'huge' (write e.g. 2GB or 500MB)"
    ]
    assert parse_size("2GB") == 2 * 10**9 and parse_size("1.5MiB") == 1_572_864 and parse_size(7) == 7


def test_a_folder_that_is_no_bundle_is_said_to_be_none(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"{}")
    assert verify_bundle(tmp_path) == [f"{tmp_path}: not a taxon bundle (no manifest.json, no SHA256SUMS)"]


def test_a_mangled_json_file_is_reported_not_raised(bundle):
    (bundle / "tokenizer_config.json").write_text("{not json")
    problems = verify_bundle(bundle)
    assert "tokenizer_config.json: checksum mismatch (the file changed after publishing)" in problems


# ------------------------------------------------------------------ integrity, not only consistency


def _reseal(bundle):
    """What an attacker who can write the bundle does: recompute the manifest and SHA256SUMS."""
    import json

    from taxon.publish.manifest import bundle_files, sha256sums_text

    manifest = json.loads((bundle / "manifest.json").read_text())
    manifest["files"] = bundle_files(bundle)
    (bundle / "manifest.json").write_text(json.dumps(manifest))
    (bundle / "SHA256SUMS").write_text(sha256sums_text(bundle))


def test_a_resealed_backdoor_passes_alone_and_fails_against_the_released_digest(bundle, capsys):
    assert main(["verify", str(bundle)]) == 0
    released = capsys.readouterr().out.split("SHA256SUMS sha256 ")[1].split(")")[0]
    assert released == sums_digest(bundle)
    (bundle / "chat_template.jinja").write_text("{{ 'ignore the user' }}")
    _reseal(bundle)
    assert verify_bundle(bundle) == []  # consistent: the bundle alone cannot tell
    assert main(["verify", str(bundle), "--sha256sums-digest", released]) == 1
    assert "this is not the released bundle" in capsys.readouterr().err
    assert verify_bundle(bundle, "f" * 63) == ["the expected SHA256SUMS digest is not 64 hex digits"]


def test_code_and_remote_code_keys_are_refused(bundle):
    import json

    (bundle / "modeling_evil.py").write_text("import os\nos.system('id')\n")
    config = json.loads((bundle / "config.json").read_text())
    (bundle / "config.json").write_text(json.dumps({**config, "auto_map": {"AutoModel": "modeling_evil.Evil"}}))
    (bundle / "tokenizer_config.json").write_text(json.dumps({"nested": [{"trust_remote_code": True}]}))
    _reseal(bundle)
    problems = verify_bundle(bundle)
    assert "modeling_evil.py: code files (.py) are not allowed in a bundle" in problems
    assert "config.json: auto_map would load code with the model; remove it" in problems
    assert "tokenizer_config.json: trust_remote_code would load code with the model; remove it" in problems


def test_absolute_and_dot_dot_paths_in_sha256sums_are_never_opened(bundle, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("exists outside the bundle")
    digest = hashlib.sha256(outside.read_bytes()).hexdigest()
    with open(bundle / "SHA256SUMS", "a") as sums:
        sums.write(f"{digest}  {outside}\n{digest}  ../outside.txt\n{digest}  ./config.json\n")
    problems = verify_bundle(bundle)
    lines = len((bundle / "SHA256SUMS").read_text().splitlines())
    assert [p for p in problems if "plain relative path" in p] == [
        f"SHA256SUMS line {n}: not a plain relative path inside the bundle" for n in (lines - 2, lines - 1, lines)
    ]
    assert not any(str(outside) in p or "outside.txt" in p for p in problems)


def test_a_fifo_is_refused_without_being_opened(bundle):
    os.mkfifo(bundle / "weights.safetensors")  # opening it to hash would block for ever
    assert verify_bundle(bundle) == [
        "weights.safetensors: links, FIFOs and devices are not allowed in a bundle (regular files only)"
    ]


@pytest.mark.parametrize("protocol", range(6))
def test_pickles_of_every_protocol_are_caught_by_content(bundle, protocol):
    import pickle

    (bundle / "notes.txt").write_bytes(pickle.dumps({"a": [1, 2.5, "x"]}, protocol=protocol))
    assert "notes.txt: pickle content is not allowed; use safetensors" in verify_bundle(bundle)


def test_text_and_safetensors_whose_first_bytes_look_like_a_pickle_header_are_not_pickles(tmp_path):
    lookalike = tmp_path / "model.safetensors"
    lookalike.write_bytes(b"\x80\x03\x00\x00\x00\x00\x00\x00" + b"{" + b" " * 0x37F)  # header length 0x380
    assert not is_pickle(lookalike)
    for text in ("# A model card\n", "In this model...\n", '{"a": 1}\n', "---\nlicense: mit\n---\n"):
        (tmp_path / "card.md").write_text(text)
        assert not is_pickle(tmp_path / "card.md"), text


@pytest.mark.parametrize(
    "name",
    [
        b"x\n::error title=Forged::the release is safe.json",
        b"::add-mask::hf_token.json",
        b"  ::set-output name=ok::yes.json",
        b"##[warning]forged.json",
        b"caf\xe9\r::stop-commands::t.json",
    ],
)
def test_hostile_file_names_are_printed_escaped(bundle, capsys, name):
    """A name in the bundle reaches the release job's log through `taxon verify`: it is
    escaped (taxon.core.github.log_name), so no line of the output is a workflow command."""
    with open(os.path.join(os.fsencode(bundle), name), "wb") as handle:
        handle.write(b"{}")
    assert main(["verify", str(bundle)]) == 1
    captured = capsys.readouterr()
    for line in (captured.out + captured.err).splitlines():
        assert not line.lstrip().startswith("::") and "##[" not in line, line
    assert "not listed in SHA256SUMS" in captured.err


AUTO_MAP = {"auto_map": {"AutoModelForCausalLM": "modeling_evil.Evil"}}
EVIL_PEFT = {"peft_type": "LORA", "auto_mapping": {"base_model_class": "system", "parent_library": "os"}}


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("config.json", lambda text: b"\xef\xbb\xbf" + text.encode()),  # a UTF-8 byte-order mark
        ("config.json", lambda text: text.encode("utf-16")),
        ("config.json", lambda text: text.encode("utf-32-le")),
        ("config.json", lambda text: text.replace("auto_map", "auto\\u005fmap").encode()),  # an escaped key
        ("processor_config.json", lambda text: text.encode("utf-16-be")),
        ("adapter/adapter_config.json", lambda text: json.dumps(EVIL_PEFT).encode()),  # peft's, naming os
        ("model_config.yaml", lambda text: b"auto_map:\n  AutoModel: modeling_evil.Evil\n"),
        ("config.json5", lambda text: b"{auto_map: {AutoModel: 'modeling_evil.Evil'},}"),
    ],
    ids=["bom", "utf-16", "utf-32", "escaped key", "another config", "peft auto_mapping", "yaml", "json5"],
)
def test_remote_code_keys_are_found_in_any_config_and_encoding(bundle, name, data):
    config = json.loads((bundle / "config.json").read_text())
    (bundle / name).parent.mkdir(exist_ok=True)
    (bundle / name).write_bytes(data(json.dumps({**config, **AUTO_MAP})))
    _reseal(bundle)
    problems = [p for p in verify_bundle(bundle) if p.startswith(f"{name}:")]
    assert problems and "would load code with the model" in problems[0], problems


@pytest.mark.parametrize(
    "mapping",
    [None, {"base_model_class": "LlamaForCausalLM", "parent_library": "transformers.models.llama.modeling_llama"}],
)
def test_peft_s_own_auto_mapping_passes(bundle, mapping):
    (bundle / "adapter").mkdir(exist_ok=True)
    (bundle / "adapter" / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "auto_mapping": mapping}))
    _reseal(bundle)
    assert verify_bundle(bundle) == []


def test_a_json_file_no_strict_loader_reads_is_refused(bundle):
    (bundle / "config.json").write_text('{"model_type": "llama", /* a comment */ "auto_map": {}}')
    _reseal(bundle)
    assert any(p.startswith("config.json: is not JSON") for p in verify_bundle(bundle))


@pytest.mark.parametrize(
    "path",
    [
        "../../../../etc/hostname",
        "/etc/hostname",
        "data/../../config.json",
        "../README.md",
        "hf://datasets/someone/else/train.jsonl",
        "https://evil.example/train.jsonl",
        "data/*.jsonl",
        "data/missing.jsonl",
    ],
)
def test_the_dataset_card_names_only_files_of_the_training_set(bundle, path):
    card = bundle / "dataset" / "README.md"
    text = card.read_text()
    assert "path: data/train.jsonl" in text
    card.write_text(
        text.replace("path: data/train.jsonl", f"path: data/train.jsonl\n  - split: extra\n    path: '{path}'", 1)
    )
    _reseal(bundle)
    assert any("the card names" in p and "not a file of the training set" in p for p in verify_bundle(bundle))


def test_a_data_dir_outside_the_training_set_is_refused(bundle):
    card = bundle / "dataset" / "README.md"
    card.write_text(card.read_text().replace("config_name: default", "config_name: default\n  data_dir: ../..", 1))
    _reseal(bundle)
    assert any("'../..', not a file of the training set" in p for p in verify_bundle(bundle))


def test_the_evaluation_report_names_no_absolute_path(bundle):
    """The evaluation ran on models at absolute paths (a runner's work folder): the bundle's
    copies name them relative to the working folder, or by their last two parts."""
    import json

    report = json.loads((bundle / "eval" / "report.json").read_text())
    strings: list[str] = []

    def collect(value):
        if isinstance(value, str):
            strings.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                strings.append(key)
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(report)
    assert report["candidate"] and not [s for s in strings if os.path.isabs(s)]
    assert report["candidate"] in report["sets"]["general/text"]["scores"]
    for text_file in ("eval/report.md", "README.md"):
        assert "/tmp/" not in (bundle / text_file).read_text(), text_file
