import shutil
import zipfile

import pytest
from run_fixtures import make_config

from taxon.cli import main
from taxon.publish import publish, verify_bundle
from taxon.publish.verify import is_pickle, parse_size, shard_problems


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
    assert "notes.txt: links are not allowed in a bundle" in verify_bundle(bundle)


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
