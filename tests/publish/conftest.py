import pytest

from support.runs import make_config, make_dataset, make_taxonomy, make_train_run


@pytest.fixture(scope="session")
def run_inputs(tmp_path_factory, tiny_model_dir):
    """A finished run: (leaves, dataset_dir, train_dir, eval_dir), evaluated against the base."""
    from taxon.evaluate import evaluate

    root = tmp_path_factory.mktemp("publish-inputs")
    leaves = make_taxonomy(root / "taxonomy")
    dataset = make_dataset(root / "generate", leaves)
    train = make_train_run(root / "train", tiny_model_dir)
    evaluation = root / "evaluate"
    config = make_config(max_per_leaf=3)
    report = evaluate(str(train / "model"), [str(tiny_model_dir)], dataset, leaves, evaluation, config, quiet=True)
    assert report.passed
    return leaves, dataset, train, evaluation
