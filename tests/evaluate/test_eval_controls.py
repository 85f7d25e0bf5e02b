"""Each figure against controls: an answer that is the reference scores 1, one that echoes
the question or is brief scores 0, and multiple choice follows the likelihoods it is given."""

from support.runs import make_config
from taxon.evaluate.answers import ModelOutputs
from taxon.evaluate.sets import KNOWLEDGE, PROBE, SKILL, TEXT, build_eval_sets
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

    perfect, _ = score_outputs(eval_sets, _outputs(eval_sets, right, -1.0))
    echo, _ = score_outputs(eval_sets, _outputs(eval_sets, lambda s, item: item.question, -9.0))
    brief, _ = score_outputs(eval_sets, _outputs(eval_sets, lambda s, item: "Yes.", -5.0))
    for set_id, kind in kinds.items():
        if kind == KNOWLEDGE:
            assert _mean(perfect[set_id]["fact_accuracy"]) == 1.0
            assert _mean(echo[set_id]["fact_accuracy"]) == 0.0  # the question never holds its own answer
            assert _mean(brief[set_id]["fact_accuracy"]) == 0.0
        if kind == SKILL:
            assert _mean(perfect[set_id]["form_accuracy"]) == 1.0 and _mean(perfect[set_id]["rouge_l"]) == 1.0
            assert _mean(brief[set_id]["form_accuracy"]) == 0.0
        if kind in (KNOWLEDGE, PROBE):
            assert _mean(perfect[set_id]["mc_acc"]) == 1.0 and _mean(echo[set_id]["mc_acc"]) == 0.0
            # all options equally likely: ties go to the first option, so accuracy is the share of
            # questions whose right answer is first, chance with the options in a fixed shuffled order
            items = next(eval_set.items for eval_set in eval_sets if eval_set.set_id == set_id)
            assert _mean(brief[set_id]["mc_acc"]) == _mean([float(item.gold == 0) for item in items]) < 0.5
        if kind == TEXT:
            assert perfect[set_id]["nll"] == [2.0] * len(perfect[set_id]["nll"])  # 6 nats over 3 tokens
