"""Knowledge samples made from the documents without the teacher, none of them showing the
document in the prompt: the model has to hold what it is taught, not read it.

A fact sticks when it is seen in several forms, so each is restated more than one way:
- "section": a question naming the section, answered by the section's sentences;
- "sentence_topic": a question naming a sentence's salient words, answered by the sentence;
- "sentence_continue": the start of a sentence to complete (cut before its first number,
  where it has one, so the figure is what the model must recall), answered by the sentence;
- "sentence_fact": for each fact of a sentence (a number, a name), a question asking for it
  as a reader would ("how many metres", "in which year") by the sentence's words nearest it,
  answered by the sentence: every fact is recalled from a question, not copied from one
  (sentence_topic names the first salient words, which are often the fact itself);
- "fact_clause": the same question for a fact of a sentence of several, answered by the fact's
  own clause (to add; measured on the demo, answering by the clause instead of the sentence
  cost a fifth of the fill-in-the-blank facts: the model learned to stop after one clause);
- "seed_bare": each training seed's question asked without its passage.
Every question names the document's title, which stands for the subject the way a reader's
question does ("How long is a glimmerball court?")."""

from __future__ import annotations

import re

from taxon.documents.sections import Section
from taxon.generate.steps import Candidate, LeafJob
from taxon.qna.facts import leaf_names, topic_of
from taxon.qna.text import STOPWORDS, Fact, name_facts, number_facts, salient_words, sentence_facts, tagged, words

TOPIC_WORDS = 5  # salient words named in a sentence_topic question
_NUMBER = re.compile(r"\d")


def _derived(form: str, question: str, answer: str, seed: int | None = None) -> Candidate:
    return Candidate(seed, None, question, None, "", show_context=False, answer=answer, source="document", form=form)


def section_question(section: Section) -> str:
    if section.heading:
        return f"What does the document on {section.title} say about {section.heading}?"
    return f"What does the document on {section.title} say?"


def _about(section: Section, text: str, asking: str, left_out: frozenset[str] = frozenset()) -> str | None:
    """A question naming the section and the first salient words of `text` (none of the title's
    or of `left_out`), or None when fewer than two are left."""
    salient = salient_words(text, set(words(section.title)) | left_out, TOPIC_WORDS)
    if len(salient) < 2:
        return None
    heading = f"{section.heading}: " if section.heading else ""
    return f"{section.title}, {heading}{asking} {' '.join(salient)}?"


def topic_question(section: Section, sentence: str) -> str | None:
    return _about(section, sentence, "what is stated about")


NEAR_WORDS = 6  # words around a fact that a sentence_fact question names


def _asking(sentence: str, fact: Fact) -> str:
    """How a reader asks for the fact: "in which year", "how many metres", "how many players",
    "what percentage", "which name"."""
    if fact.kind == "name":
        return "which name"
    if fact.is_year:
        return "in which year"
    if fact.unit == "%":
        return "what percentage"
    if fact.unit == "°C":
        return "what temperature"
    if fact.unit:
        unit = words(sentence[fact.start : fact.end])[-1]
        return f"how many {unit if unit.endswith('s') or len(unit) <= 2 else unit + 's'}"
    following = re.match(r"\s+([A-Za-z]+)", sentence[fact.end :])
    if following:
        tags = {token.text.lower(): token.tag for token in tagged(sentence)}
        if tags.get(following.group(1).lower(), "").startswith("NN"):
            return f"how many {following.group(1).lower()}"
    return "what number"


def near_words(section: Section, sentence: str, fact: Fact, limit: int = NEAR_WORDS) -> list[str]:
    """The sentence's salient words nearest the fact (none of the fact's or the title's), in
    sentence order: what the fact is about, whichever side of it they stand."""
    skip = set(words(section.title)) | set(words(sentence[fact.start : fact.end]))
    before = salient_words(sentence[: fact.start], skip)
    after = [word for word in salient_words(sentence[fact.end :], skip) if word not in before]
    chosen_before, chosen_after = [], []
    while len(chosen_before) + len(chosen_after) < limit and (before or after):
        if before:
            chosen_before.insert(0, before.pop())
        if after and len(chosen_before) + len(chosen_after) < limit:
            chosen_after.append(after.pop(0))
    return chosen_before + chosen_after


def fact_question(section: Section, sentence: str, fact: Fact) -> str | None:
    """Ask for one fact as a reader would ("how many metres", "in which year", "which name"),
    by the sentence's salient words nearest it; None when fewer than two are left."""
    asking = _asking(sentence, fact)
    near = [word for word in near_words(section, sentence, fact, NEAR_WORDS + 1) if word not in asking.split()]
    if len(near) < 2:
        return None
    heading = f"{section.heading}: " if section.heading else ""
    return f"{section.title}, {heading}{asking} {' '.join(near[:NEAR_WORDS])}?"


_CLAUSE_BREAK = re.compile(r",\s+|;\s+|\s+(?:and|but|while|whereas)\s+")


def _lead(opening: str) -> str:
    """The opening clause up to its first figure or name, without trailing small words: what a
    later clause is about ("A glimmerball court is a rectangle" of "... a rectangle 30 metres
    long"), so that the clause is restated without the opening's own figures."""
    found = number_facts(opening) + name_facts(opening)
    cut = min((fact.start for fact in found), default=len(opening))
    lead = opening[:cut].split()
    while lead and lead[-1].lower().strip(",") in STOPWORDS:
        lead.pop()
    return " ".join(lead).rstrip(",") if len(lead) >= 2 else ""


def fact_clause(sentence: str, fact: Fact) -> str:
    """The part of the sentence that states the fact, as a sentence of its own: its clause, after
    the lead of the sentence's opening clause when it is a later one, so that the fact is
    restated apart from the other figures of its sentence."""
    starts = [0] + [match.end() for match in _CLAUSE_BREAK.finditer(sentence)]
    ends = [match.start() for match in _CLAUSE_BREAK.finditer(sentence)] + [len(sentence)]
    for start, end in zip(starts, ends):
        if start <= fact.start < end:
            clause = sentence[start:end].strip().rstrip(".")
            own_subject = re.match(r"(?:and|but)\s+(?=(?:the|a|an|it|its|they|their|she|he|his|her)\b)", clause)
            if own_subject:  # "..., and the chicks leave the nest": a clause that names what it is about
                clause = clause[own_subject.end() :]
            lead = _lead(sentence[: ends[0]]) if start > 0 and not own_subject else ""
            clause = f"{lead} {clause}" if lead else clause
            return clause[:1].upper() + clause[1:] + "."
    return sentence


def continue_question(section: Section, sentence: str) -> str | None:
    """The opening of the sentence to complete: up to its first number, else its first 40 % of
    words; at least 3 words given and 3 left to recall."""
    tokens = sentence.split()
    first_number = next((i for i, token in enumerate(tokens) if _NUMBER.search(token)), None)
    cut = first_number if first_number is not None and first_number >= 3 else max(3, int(len(tokens) * 0.4))
    if len(tokens) - cut < 3:
        return None
    return f'Complete this statement from the document on {section.title}: "{" ".join(tokens[:cut])} ..."'


def document_candidates(job: LeafJob, sections: list[Section], forms: tuple[str, ...]) -> list[Candidate]:
    """The leaf's derived samples in document order, sections first, then the bare seeds."""
    candidates: list[Candidate] = []
    names = leaf_names(job.leaf, [sentence for section in sections for sentence in section.sentences])
    topic_words = set(words(topic_of(job.leaf)))
    for section in sections:
        if "section" in forms:
            candidates.append(_derived("section", section_question(section), section.text))
        for sentence in section.sentences:
            for form, make in (("sentence_topic", topic_question), ("sentence_continue", continue_question)):
                question = make(section, sentence) if form in forms else None
                if question:
                    candidates.append(_derived(form, question, sentence))
            if "sentence_fact" in forms:
                facts = sentence_facts(sentence, names, topic_words)
                for fact in facts:
                    if question := fact_question(section, sentence, fact):
                        candidates.append(_derived("sentence_fact", question, sentence))
                        if "fact_clause" in forms and len(facts) > 1:
                            # a fact of a sentence of several restated by its own clause
                            candidates.append(_derived("fact_clause", question, fact_clause(sentence, fact)))
    if "seed_bare" in forms:
        for index in job.training_seeds:
            seed = job.leaf.seeds[index]
            candidates.append(_derived("seed_bare", seed.question, seed.answer, seed=index))
    return candidates
