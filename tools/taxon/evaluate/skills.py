"""Skill correctness: an answer is right when it carries the reference's content, not merely its
form. Scored only where the reference is trusted (a held-out seed, a sample a maintainer
approved or fixed, or a value a checker computed from the question: `qna.solvers`), each item by
the strictest method its reference allows:

- solver: the checker's value, and no other value of its kind ("39 + 39 = 78.", not "= 82.");
- number / label: the same number, the same label;
- template: the seeds' shared skeleton with the reference's content in its slots ("The plural
  of city is cities.", not "... is city."); an answer in other words is held to the
  reference's key facts, as below (the form is a figure of its own);
- exact: a rewrite of the question's own words (title case), word for word as the reference;
- facts: a short answer holding the reference's key facts (`qna.text.key_facts`), none of the
  question's text credited, no number or day the reference and question don't state;
- judge: a free answer (a poem, a summary, a rewrite), judged against the reference by a judge
  model: on the cpu profile a likelihood comparison (below), on the gpu profile a verdict a
  strong model writes with its rationale.

Whatever the method, an answer that copies the question (or its passage) back, or repeats a
seed's answer word for word, is wrong; and so is one that breaks a check its task allows (a
false equation), and a judged one that leaves out what the reference concludes (its number,
its label, its yes or no: `misses_the_claim`). The likelihood judge compares how much the
answer depends on its own question with how much the reference does: the answer's mean token
log-probability after its question, less its mean after the leaf's other questions (pointwise
mutual information, PMI), must reach `evaluate.skill_judge_min_share` of the reference's own. A
fluent answer to some other question, a seed's answer and a generic reply all score near zero;
copies are ruled out before. It cannot tell a right conclusion from a wrong one in the same
words (bench/RESULTS.md, the real InstructLab reasoning leaves): that is the generated judge's."""

from __future__ import annotations

import re
from dataclasses import dataclass

from taxon.evaluate.forms import NUM, AnswerForm, _tokens
from taxon.evaluate.items import EvalSet
from taxon.qna.checks import LeafChecks, failed
from taxon.qna.solvers import MONTHS, WEEKDAYS, Solution, numbers_in
from taxon.qna.text import COPY_SHARE, content_terms, copy_share, fact_match, key_facts, stem, words

SOLVER, NUMBER, LABEL, TEMPLATE, EXACT, FACTS, JUDGE = (
    "solver",
    "number",
    "label",
    "template",
    "exact",
    "facts",
    "judge",
)
FACTS_MAX_WORDS = 12  # a reference this short is held to its key facts; longer ones go to the judge


@dataclass(frozen=True)
class Verdict:
    right: bool
    why: str  # what decided it, for people: "slots: cities ≠ city", "judge: PMI 0.41 (reference 0.62)"


def scoring_method(form: AnswerForm | None, reference: str, question: str, solution: Solution | None) -> str:
    """How a trusted reference is scored (see the module docstring)."""
    if solution is not None:
        return SOLVER
    if form is not None and form.kind in ("number", "label", "template"):
        return {"number": NUMBER, "label": LABEL, "template": TEMPLATE}[form.kind]
    if form is not None and form.kind == "title_case":
        return EXACT
    in_lines = form is not None and form.kind == "lines"  # a poem: words are its content, judged whole
    if not in_lines and len(reference.split()) <= FACTS_MAX_WORDS and key_facts(reference, question):
        return FACTS
    return JUDGE


def copies(answer: str, source: str, reference: str) -> bool:
    """The answer is mostly the source's text, and a right answer (the reference) is not."""
    return copy_share(answer, source) >= COPY_SHARE and copy_share(reference, source) < COPY_SHARE


def normal(text: str) -> tuple[str, ...]:
    return tuple(words(text))


def _slots(tokens: list[str], raw: list[str], skeleton: tuple[str, ...]) -> list[str] | None:
    """The text between the skeleton's tokens (and each number in a number slot), or None when
    the tokens don't hold the skeleton in order."""
    slots: list[str] = []
    current: list[str] = []
    position = 0
    for token, original in zip(tokens, raw):
        if position < len(skeleton) and token == skeleton[position]:
            slots.append(" ".join(current))
            current = []
            if token == NUM:
                slots.append(original.replace(",", ""))
            position += 1
        else:
            current.append(token)
    slots.append(" ".join(current))
    return slots if position == len(skeleton) else None


def template_slots(text: str, form: AnswerForm) -> list[str] | None:
    raw = re.findall(r"-?\d+(?:[.,]\d+)*|\w+|[^\w\s]", text.strip(), re.UNICODE)
    return _slots(_tokens(text.strip()), raw, tuple(form.detail))


_CALENDAR = frozenset(WEEKDAYS) | frozenset(MONTHS)


def _extra_values(answer: str, reference: str, question: str) -> list[str]:
    """Numbers and calendar words the answer states that neither the reference nor the question does."""
    stated = set(numbers_in(reference)) | set(numbers_in(question))
    extra = [str(n) for n in numbers_in(answer) if n not in stated]
    known = set(words(reference)) | set(words(question))
    return extra + [word for word in words(answer) if word in _CALENDAR and word not in known]


def score_against_reference(
    method: str,
    answer: str,
    reference: str,
    question: str,
    form: AnswerForm | None,
    solution: Solution | None,
) -> Verdict:
    """A non-judge method's verdict (the judge's comes from `judge.py`)."""
    if method == SOLVER and solution is not None:
        if solution.holds(answer):
            return Verdict(True, f"checker: states {solution.value}")
        return Verdict(False, f"checker: the answer is {solution.value}")
    if method == NUMBER:
        said_numbers, wanted_numbers = numbers_in(answer), numbers_in(reference)
        return Verdict(said_numbers == wanted_numbers, f"number: {said_numbers[:3]} against {wanted_numbers}")
    if method == LABEL:
        said_label, wanted_label = normal(answer), normal(reference)
        if said_label != wanted_label and form is not None and form.kind == "label":
            # in a sentence ("The sentiment of this sentence is negative."): the label, and no other
            stated = {str(label) for label in form.detail} & set(said_label)
            if stated == set(wanted_label):
                return Verdict(True, f"label: states {' '.join(wanted_label)} in a sentence, no other label")
        return Verdict(
            said_label == wanted_label, f"label: {' '.join(said_label) or '(none)'} against {' '.join(wanted_label)}"
        )
    if method == TEMPLATE and form is not None and not form.check(answer):
        return _slots_in_other_words(answer, reference, question, form)
    if method == TEMPLATE and form is not None:
        said, wanted = template_slots(answer, form), template_slots(reference, form)
        if said is None or wanted is None or said != wanted:
            in_other_words = _slots_in_other_words(answer, reference, question, form)  # "The plural form of ..."
            if in_other_words.right:
                return in_other_words
            diff = [f"{w or '∅'} ≠ {s or '∅'}" for s, w in zip(said or [], wanted or []) if s != w]
            return Verdict(False, "slots: " + "; ".join(diff[:3]))
        return Verdict(True, "slots: " + " | ".join(slot for slot in wanted if slot))
    if method == EXACT:
        said = re.findall(r"[^\W_]+", answer)
        wanted = re.findall(r"[^\W_]+", reference)
        return Verdict(said == wanted, "word for word" if said == wanted else "differs from the reference")
    facts = key_facts(reference, question)
    extra = _extra_values(answer, reference, question)
    if extra:
        return Verdict(False, f"facts: states {', '.join(extra[:3])}, which the reference does not")
    right = bool(fact_match(answer, facts, question))
    return Verdict(right, f"facts: {', '.join(f.split(':', 1)[1] for f in facts)}" + ("" if right else " missing"))


def _slots_in_other_words(answer: str, reference: str, question: str, form: AnswerForm) -> Verdict:
    """A template leaf's answer in other words than the seeds' skeleton ("The date of the autumn
    bread tasting is 2 November.", "The plural form of city is cities."): right when it holds the
    words of every slot of the reference and states no number or calendar word the reference and
    question do not."""
    wanted = [slot for slot in template_slots(reference, form) or [] if normal(slot)]
    extra = _extra_values(answer, reference, question)
    said = set(normal(answer))
    missing = [slot for slot in wanted if not set(normal(slot)) <= said]
    if not wanted or extra or missing:
        why = f"states {', '.join(extra[:3])}" if extra else f"lacks {', '.join(missing[:3]) or 'the slots'}"
        return Verdict(False, f"not in the seeds' form; {why}")
    return Verdict(True, "in other words than the seeds'; carries " + " | ".join(wanted))


def ruled_out(answer: str, reference: str, question: str, seed_answers: frozenset[tuple[str, ...]]) -> str | None:
    """Why an answer is wrong whatever it says, or None: empty, a copy of the question, a seed's
    answer (other than the reference) word for word, or one that says no content word beyond the
    question's own where the reference does ("three synonyms for attend: attend, attend, attend")."""
    if not words(answer):
        return "empty"
    if copies(answer, question, reference):
        return "copies the question"
    said = normal(answer)
    if said in seed_answers and said != normal(reference):
        return "a seed's answer, word for word"
    if not _new_terms(answer, question) and _new_terms(reference, question):
        return "adds nothing to the question's own words"
    return None


def _new_terms(text: str, question: str) -> set[str]:
    """The text's content words (by stem) that the question does not hold."""
    asked = {stem(word) for word in words(question)}
    return {stem(word) for word in content_terms(text)} - asked


_SENTENCE_BREAK = re.compile(r"(?<=[.!?])\s+")
_YES_NO = ("yes", "no")
_DIGITS = re.compile(r"(?<![\w.])-?\d+(?:[.,]\d+)*")
_CONCLUSION = re.compile(r"^\W*(?:therefore|hence|thus|in total)\b|\bthe answer is\b", re.IGNORECASE)
SHORT_REFERENCE_WORDS = 3  # a reference this short (a label, "C (marks between 40 and 60)") is its claim


def misses_the_claim(answer: str, reference: str, question: str) -> str | None:
    """Why a free answer is wrong whatever a judge says, or None: it leaves out what the reference
    concludes. On real InstructLab reasoning leaves the likelihood judge passed "10 servers require
    10 administrators" for "100 servers.", "Explorer" for "Enthusiast": it weighs how much an
    answer depends on its question, not whether it agrees with the reference. So the answer must
    state one of the numbers (in digits) that the reference's last concluding sentence states,
    or else its first, and the question does not ("... Therefore the answer is 0.", "100
    servers."), a short reference's words, and not the opposite of the reference's opening yes
    or no."""
    sentences = [part for part in _SENTENCE_BREAK.split(reference.strip()) if part] or [""]
    conclusion = next((part for part in reversed(sentences) if _CONCLUSION.search(part)), sentences[0])
    # in digits only: "one window lit" ends a poem, "one hour" is more often working than a result
    stated = {number for digits in _DIGITS.findall(conclusion) for number in numbers_in(digits)}
    concluded, said = stated - set(numbers_in(question)), set(numbers_in(answer))
    if concluded and not concluded & said:
        return (
            "states none of "
            + ", ".join(sorted(f"{float(n):g}" for n in concluded))
            + ", which the reference concludes"
        )
    label = re.sub(r"\([^)]*\)", " ", reference)
    if len(label.split()) <= SHORT_REFERENCE_WORDS and not set(words(label)) <= set(words(answer)):
        return f"does not state {label.strip()}"
    opening, reply = words(reference)[:1], words(answer)[:1]
    if opening and reply and opening[0] in _YES_NO and reply[0] in _YES_NO and opening != reply:
        return f"says {reply[0]} where the reference says {opening[0]}"
    return None


def check_problem(checks: LeafChecks | None, question: str, answer: str) -> str | None:
    """A check the task allows that the answer breaks ("check_equation"), or None."""
    return failed(checks.results(question, answer)) if checks is not None else None


def skill_verdict(eval_set: EvalSet, index: int, answer: str, judged: dict[tuple[str, int, str], Verdict]) -> Verdict:
    """The verdict on one answer to a scored skill item (`item.method` set)."""
    item = eval_set.items[index]
    reason = ruled_out(answer, item.reference, item.question, eval_set.seed_answers)
    if reason:
        return Verdict(False, reason)
    problem = check_problem(eval_set.checks, item.question, answer)
    if problem:
        return Verdict(False, f"breaks {problem.removeprefix('check_')}")
    if item.method == JUDGE:  # a poem or a summary does its task only in its form: three lines, one sentence
        if eval_set.form is not None and not eval_set.form.check(answer):
            return Verdict(False, f"not in the form ({eval_set.form.describe()})")
        missed = misses_the_claim(answer, item.reference, item.question)
        if missed:
            return Verdict(False, missed)
        return judged.get((eval_set.set_id, index, answer)) or Verdict(False, "not judged")
    return score_against_reference(item.method, answer, item.reference, item.question, eval_set.form, item.solution)
