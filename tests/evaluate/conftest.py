import pytest

from support.runs import make_dataset, make_taxonomy


@pytest.fixture(scope="session")
def eval_inputs(tmp_path_factory):
    """(leaves, dataset_dir) of a taxonomy with a knowledge leaf (and its document) and two skill leaves."""
    root = tmp_path_factory.mktemp("eval-inputs")
    leaves = make_taxonomy(root / "taxonomy", knowledge=True)
    return leaves, make_dataset(root / "generate", leaves)
