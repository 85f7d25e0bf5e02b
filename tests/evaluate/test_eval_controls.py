"""Each figure against controls: an answer that is the reference scores 1, one that echoes
the question or is brief scores 0, and multiple choice follows the likelihoods it is given."""

import re

from support.runs import make_config
from taxon.core.settings import EvaluateSettings
from taxon.evaluate.answers import ModelOutputs
from taxon.evaluate.items import KNOWLEDGE, PROBE, SKILL, TEXT
from taxon.evaluate.sets import build_eval_sets
from taxon.evaluate.stage import score_outputs


def _outputs(eval_sets, answer, gold_logprob, other_logprob=-5.0):
    answers, logprobs, tokens = [], [], []
    for eval_set in eval_sets:
        for item in eval_set.items:
            if eval_set.kind in (KNOWLEDGE, SKILL):
                answers.append(answer(eval_set, item))
            for index, _ in enumerate(item.choices):
                logprobs.append(gold_logprob if index == item.gold else other_logprob)
                tokens.append(3)
            if eval_set.kind == TEXT:
                logprobs.append(-6.0)
                tokens.append(3)
    return ModelOutputs(answers, logprobs, tokens)


def _mean(values):
    return sum(values) / len(values)


def test_every_figure_against_its_controls(eval_inputs):
    leaves, dataset = eval_inputs
    eval_sets = build_eval_sets(leaves, dataset, make_config())
    kinds = {eval_set.set_id: eval_set.kind for eval_set in eval_sets}

    def right(eval_set, item):
        return item.choices[item.gold] if eval_set.kind == KNOWLEDGE else item.reference

    perfect, _, _ = score_outputs(eval_sets, _outputs(eval_sets, right, -1.0))
    echo, _, _ = score_outputs(eval_sets, _outputs(eval_sets, lambda s, item: item.question, -9.0))
    brief, _, _ = score_outputs(eval_sets, _outputs(eval_sets, lambda s, item: "Yes.", -5.0))
    for set_id, kind in kinds.items():
        if kind == KNOWLEDGE:
            assert _mean(perfect[set_id]["fact_accuracy"]) == 1.0
            assert _mean(echo[set_id]["fact_accuracy"]) == 0.0  # the question never holds its own answer
            assert _mean(brief[set_id]["fact_accuracy"]) == 0.0
        if kind == SKILL:
            assert _mean(perfect[set_id]["form_accuracy"]) == 1.0 and _mean(perfect[set_id]["rouge_l"]) == 1.0
            assert _mean(perfect[set_id]["skill_accuracy"]) == 1.0
            assert _mean(brief[set_id]["form_accuracy"]) == 0.0 == _mean(brief[set_id]["skill_accuracy"])
        if kind in (KNOWLEDGE, PROBE):
            assert _mean(perfect[set_id]["mc_acc"]) == 1.0 and _mean(echo[set_id]["mc_acc"]) == 0.0
            # all options equally likely: ties go to the first option, so accuracy is the share of
            # questions whose right answer is first, chance with the options in a fixed shuffled order
            items = next(eval_set.items for eval_set in eval_sets if eval_set.set_id == set_id)
            assert _mean(brief[set_id]["mc_acc"]) == _mean([float(item.gold == 0) for item in items]) < 0.5
        if kind == TEXT:
            assert perfect[set_id]["nll"] == [2.0] * len(perfect[set_id]["nll"])  # 6 nats over 3 tokens


def test_a_skill_answer_in_form_but_wrong_scores_on_form_only(repo_root, tmp_path):
    """ "39 + 39 = 88." has the seeds' form; skill accuracy holds it to the sum as well."""
    from taxon.evaluate.sets import skill_eval_set
    from taxon.qna.taxonomy import load_leaf

    leaves = {
        "foundational_skills/reasoning/arithmetic/two_number_addition": lambda ref: re.sub(
            r"(\d+)\.$", lambda m: f"{int(m.group(1)) + 10}.", ref
        ),
        "foundational_skills/reasoning/temporal/days_of_the_week": lambda ref: re.sub(
            r"(\w+)day\.$", "Sunday." if not ref.endswith("Sunday.") else "Monday.", ref
        ),
    }
    for folder, wrong in leaves.items():
        leaf = load_leaf(repo_root / "taxonomy" / folder / "qna.yaml")
        eval_set = skill_eval_set(
            leaf, tmp_path, 1.0, 0, EvaluateSettings(skill_min_items=0)
        )  # every seed held out: references from the leaf
        assert len(eval_set.items) == len(leaf.seeds)
        right, _, _ = score_outputs([eval_set], ModelOutputs([item.reference for item in eval_set.items], [], []))
        broken, _, _ = score_outputs(
            [eval_set], ModelOutputs([wrong(item.reference) for item in eval_set.items], [], [])
        )
        assert _mean(right[leaf.leaf_id]["skill_accuracy"]) == 1.0, folder
        assert _mean(broken[leaf.leaf_id]["form_accuracy"]) == 1.0, folder
        assert _mean(broken[leaf.leaf_id]["skill_accuracy"]) == 0.0, folder
