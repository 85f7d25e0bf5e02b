"""The judge of free-form skill answers (a poem, a summary, a rewrite), against the reference and
the task, one model for every answer of every model compared, so no candidate judges itself.

- "loglikelihood" (the cpu profile; the judge a 135M model can be): for an answer `a` to a
  question `q`, PMI(a) = mean log p(a | q) - mean over the leaf's other questions q' of
  mean log p(a | q'): how much the answer depends on its own question, per token. The answer is
  right when PMI(a) >= skill_judge_min_share x PMI(reference) (and above zero): a fluent answer to
  another question, a seed's answer or a generic reply depends on no question in particular
  and scores near zero or below. Copies of the question are ruled out before (`skills.ruled_out`).
- "generated" (the gpu profile, with a strong instruct model as `evaluate.skill_judge_model`): the
  judge reads the task, the question, the reference and the answer and writes its reasons, then
  `Verdict: right` or `Verdict: wrong`, as MT-Bench's reference-guided grading does; the
  reasons go into the report beside the verdict."""

from __future__ import annotations

import re
from dataclasses import dataclass

from taxon.evaluate.answers import ModelOutputs, Scoring
from taxon.evaluate.items import EvalSet
from taxon.evaluate.skills import JUDGE, Verdict

CONTRASTS = 3  # other questions of the leaf an answer is scored after
PROMPT = """You grade one answer to a task, against a reference answer known to be right.

Task: {task}

Question:
{question}

Reference answer (right):
{reference}

Answer to grade:
{answer}

The answer is right when it does what the task asks for this question and says what the
reference says (the same facts, values and meaning), in whatever words. It is wrong when it
answers another question, copies the question back, leaves the task undone, or states
something the reference contradicts. First give your reasons in two or three sentences, then
end with one line: `Verdict: right` or `Verdict: wrong`."""
_VERDICT = re.compile(r"verdict\W*(right|wrong)", re.IGNORECASE)


@dataclass(frozen=True)
class JudgeCase:
    """One answer to judge: where it is (set id, item index) and what it answers."""

    set_id: str
    index: int
    question: str
    reference: str
    answer: str
    task: str
    contrasts: tuple[str, ...]  # the leaf's other questions (loglikelihood)


def cases(eval_sets: list[EvalSet], answers_by_model: list[dict[str, list[str]]]) -> list[JudgeCase]:
    """Every distinct (item, answer) the judge must see: the answers of every model to every
    item scored by the judge, and each item's reference (to calibrate the likelihood judge)."""
    found: dict[tuple[str, int, str], JudgeCase] = {}
    for eval_set in eval_sets:
        for index, item in enumerate(eval_set.items):
            if item.method != JUDGE:
                continue
            others = tuple(q for q in eval_set.seed_questions if q != item.question)
            start = index % max(1, len(others))
            contrasts = (others[start:] + others[:start])[:CONTRASTS]
            answers = [item.reference] + [by_set[eval_set.set_id][index] for by_set in answers_by_model]
            for answer in answers:
                key = (eval_set.set_id, index, answer)
                found.setdefault(
                    key,
                    JudgeCase(eval_set.set_id, index, item.question, item.reference, answer, eval_set.task, contrasts),
                )
    return list(found.values())


def _user(text: str) -> tuple[dict[str, str], ...]:
    return ({"role": "user", "content": text},)


def likelihood_scorings(judged: list[JudgeCase]) -> list[Scoring]:
    """For each case: its answer after its own question, then after each contrast question."""
    return [Scoring(_user(q), case.answer) for case in judged for q in (case.question, *case.contrasts)]


def generated_prompts(judged: list[JudgeCase]) -> list[list[dict[str, str]]]:
    return [
        list(_user(PROMPT.format(task=c.task, question=c.question, reference=c.reference, answer=c.answer)))
        for c in judged
    ]


def _pmi(outputs: ModelOutputs, offset: int, contrasts: int) -> float:
    means = [outputs.logprobs[offset + i] / outputs.tokens[offset + i] for i in range(1 + contrasts)]
    return means[0] - sum(means[1:]) / contrasts if contrasts else 0.0


def likelihood_verdicts(
    judged: list[JudgeCase], outputs: ModelOutputs, min_share: float
) -> dict[tuple[str, int, str], Verdict]:
    """(set id, index, answer) -> verdict, from the scorings `likelihood_scorings` laid out."""
    pmi: dict[tuple[str, int, str], float] = {}
    offset = 0
    for case in judged:
        pmi[(case.set_id, case.index, case.answer)] = _pmi(outputs, offset, len(case.contrasts))
        offset += 1 + len(case.contrasts)
    verdicts = {}
    for case in judged:
        own = pmi[(case.set_id, case.index, case.answer)]
        reference = pmi[(case.set_id, case.index, case.reference)]
        if reference <= 0:
            verdict = Verdict(False, f"judge: the reference does not depend on its question (PMI {reference:.2f})")
        else:
            right = own > 0 and own >= min_share * reference
            verdict = Verdict(right, f"judge: PMI {own:.2f} against the reference's {reference:.2f}")
        verdicts[(case.set_id, case.index, case.answer)] = verdict
    return verdicts


def parse_verdict(text: str) -> Verdict:
    """A generated verdict: its last `Verdict: right|wrong`, with the text before it as rationale;
    a reply without one is wrong (and says so)."""
    found = _VERDICT.findall(text)
    reasons = " ".join(_VERDICT.split(text)[0].split())[:400] if found else " ".join(text.split())[:400]
    if not found:
        return Verdict(False, f"judge gave no verdict: {reasons}")
    return Verdict(found[-1].lower() == "right", f"judge: {reasons}")


def generated_verdicts(judged: list[JudgeCase], outputs: ModelOutputs) -> dict[tuple[str, int, str], Verdict]:
    return {(c.set_id, c.index, c.answer): parse_verdict(text) for c, text in zip(judged, outputs.answers)}
