import yaml

from support.runs import KNOWLEDGE_LEAF, make_config
from taxon.evaluate import evaluate
from taxon.evaluate.harness import run_harness, task_name, write_harness_tasks
from taxon.evaluate.sets import PROBE_ID, build_eval_sets


def test_the_multiple_choice_sets_are_lm_eval_task_files(eval_inputs, tmp_path):
    leaves, dataset = eval_inputs
    tasks = write_harness_tasks(build_eval_sets(leaves, dataset, make_config()), tmp_path)
    assert set(tasks) == {KNOWLEDGE_LEAF, PROBE_ID}  # skill leaves have no choices
    config = yaml.safe_load((tmp_path / f"{task_name(KNOWLEDGE_LEAF)}.yaml").read_text())
    assert config["output_type"] == "multiple_choice" and config["dataset_path"] == "json"
    assert config["dataset_kwargs"]["data_files"]["test"] == str(tmp_path / f"{task_name(KNOWLEDGE_LEAF)}.jsonl")


def test_lm_eval_scores_our_sets_as_we_do(eval_inputs, tiny_model_dir, tmp_path):
    """lm_eval.simple_evaluate (model hf, the local tiny model, offline) on the task files:
    its acc is our own multiple-choice accuracy, question for question on average."""
    leaves, dataset = eval_inputs
    knowledge = [leaf for leaf in leaves if leaf.kind == "knowledge"]
    config = make_config(lm_eval=True)
    report = evaluate(str(tiny_model_dir), [str(tiny_model_dir)], dataset, knowledge, tmp_path, config, quiet=True)
    harness = report.data["lm_eval"][str(tiny_model_dir)]
    for set_id in (KNOWLEDGE_LEAF, PROBE_ID):
        ours = report.data["sets"][set_id]["scores"][str(tiny_model_dir)]
        assert harness[set_id]["acc"] == ours["mc_acc"], set_id
    assert "lm-evaluation-harness" in (tmp_path / "report.md").read_text()
    assert run_harness({}, tmp_path, {}, config.evaluate) == {}
