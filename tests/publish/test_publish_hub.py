import pytest

from support.runs import make_config
from taxon.core.errors import TaxonError, UsageError
from taxon.publish import publish, verify_bundle
from taxon.publish.hub import hub_repo


def test_hub_destinations_are_parsed():
    assert hub_repo("hf://my-org/my.model") == "my-org/my.model"
    assert hub_repo("runs/bundle") is None
    for bad in ("hf://no-name", "hf://a/b/c", "hf://org/bad name"):
        with pytest.raises(UsageError):
            hub_repo(bad)


def _hub_config(tmp_path):
    return make_config().with_overrides({"publish": {"hub_staging_dir": str(tmp_path / "staging")}})


def test_without_a_token_the_bundle_is_built_and_verified_then_a_clear_error(run_inputs, tmp_path, monkeypatch):
    leaves, dataset, train, evaluation = run_inputs
    monkeypatch.delenv("HF_TOKEN", raising=False)
    with pytest.raises(TaxonError, match="HF_TOKEN is not set") as caught:
        publish(train, evaluation, dataset, leaves, _hub_config(tmp_path), "hf://org/name")
    staged = tmp_path / "staging" / "org" / "name"
    assert caught.value.where == str(staged) and verify_bundle(staged) == []


def test_with_a_token_the_bundle_folder_is_uploaded(run_inputs, tmp_path, monkeypatch):
    import huggingface_hub

    calls = []

    class RecordingApi:  # stands in for the unreachable hub: records the two calls
        def __init__(self, token):
            calls.append(("token", token))

        def create_repo(self, repo_id, **options):
            calls.append(("create_repo", repo_id, options))

        def upload_folder(self, folder_path, repo_id, **options):
            calls.append(("upload_folder", repo_id, folder_path))

    leaves, dataset, train, evaluation = run_inputs
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingApi)
    bundle = publish(train, evaluation, dataset, leaves, _hub_config(tmp_path), "hf://org/name")
    assert calls == [
        ("token", "hf_test"),
        ("create_repo", "org/name-dataset", {"repo_type": "dataset", "private": False, "exist_ok": True}),
        ("upload_folder", "org/name-dataset", str(bundle / "dataset")),
        ("create_repo", "org/name", {"repo_type": "model", "private": False, "exist_ok": True}),
        ("upload_folder", "org/name", str(bundle)),
    ]
    # the model card, read by huggingface_hub's own card parser, links the dataset and names the repository
    card = huggingface_hub.ModelCard((bundle / "README.md").read_text())
    assert card.data.datasets == ["org/name-dataset"] and card.data.language == ["en"]
    assert 'from_pretrained("org/name")' in card.text
    dataset_card = huggingface_hub.DatasetCard((bundle / "dataset" / "README.md").read_text())
    assert dataset_card.data.size_categories == ["n<1K"] and dataset_card.data.language == ["en"]


def test_a_hub_failure_is_a_clear_error(run_inputs, tmp_path, monkeypatch):
    import huggingface_hub

    class UnreachableApi:
        def __init__(self, token):
            pass

        def create_repo(self, repo_id, **options):
            raise ConnectionError("network is unreachable")

    leaves, dataset, train, evaluation = run_inputs
    monkeypatch.setenv("HF_TOKEN", "hf_test")
    monkeypatch.setattr(huggingface_hub, "HfApi", UnreachableApi)
    with pytest.raises(TaxonError, match="upload to the Hugging Face Hub failed: network is unreachable"):
        publish(train, evaluation, dataset, leaves, _hub_config(tmp_path), "hf://org/name")
