"""Knowledge samples made from the documents without the teacher, none of them showing the
document in the prompt: the model has to hold what it is taught, not read it.

A fact sticks when it is seen in several forms, so each is restated more than one way:
- "section": a question naming the section, answered by the section's sentences;
- "sentence_topic": a question naming a sentence's salient words, answered by the sentence;
- "sentence_continue": the start of a sentence to complete, cut before a fact (a number, a
  name: the first with three words before it; a sentence without one is not asked), so the
  fact is what the model must recall, answered by the sentence;
- "sentence_fact": for each fact of a sentence (a number, a name), a question asking for it
  as a reader would ("how many metres", "in which year") by the sentence's words nearest it,
  answered by the sentence: every fact is recalled from a question, not copied from one
  (sentence_topic names the first salient words, which are often the fact itself);
- "fact_clause": the same question for a fact of a sentence of several, answered by the fact's
  own clause (to add; measured on the demo, answering by the clause instead of the sentence
  cost a fifth of the fill-in-the-blank facts: the model learned to stop after one clause);
- "fact_echo": each fact asked in its own clause's words, the fact replaced by how a reader
  asks for it ("A glimmerball court is a rectangle how many metres long?", "It was first
  described in which year by which naturalist?"), answered by the sentence: the same fact
  from a question worded as a sentence, not as a list of words;
- "subject_lookup": the document's subject asked for from what a sentence says about it
  ("Which town is known across the county as the Slate Town?", "Which bird was first
  described in 1881 by the naturalist Tobias Quenby?"): a model trained on facts one way
  round does not answer them the other way (Physics of LMs 3.1-3.2), so each sentence about
  the subject is also asked from its other side;
- "seed_bare": each training seed's question asked without its passage.
Every question names the document's title or subject, which stands for the subject the way a
reader's question does ("How long is a glimmerball court?")."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from taxon.documents.sections import Section
from taxon.generate.steps import Candidate, LeafJob
from taxon.qna.facts import leaf_names, topic_of
from taxon.qna.text import (
    STOPWORDS,
    Fact,
    fold,
    name_facts,
    number_facts,
    salient_words,
    sentence_facts,
    tagged,
    words,
)

TOPIC_WORDS = 5  # salient words named in a sentence_topic question


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
    chosen_before: list[str] = []
    chosen_after: list[str] = []
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


# --- the subject, asked for from the other side ---------------------------------------------------

_DETERMINER = r"(?:(?:the|a|an|every|each)\s+)?"
_PRONOUN_START = re.compile(r"(It|Its)\b")


@dataclass(frozen=True)
class Subject:
    """What a knowledge document is about: its name as the document spells it ("Zephyr K3"),
    how a sentence's subject says it ("The Zephyr K3"), and the noun it is ("kettle")."""

    name: str
    said: str
    kind: str

    def mentions(self) -> re.Pattern[str]:
        """The name, or "the <its last word>" / "the <kind>" ("the finch", "the town"), not
        followed by a possessive or by another capitalised word (a longer name)."""
        last = self.name.split()[-1]
        names = [re.escape(self.name)]
        if " " in self.name:
            names += [rf"the\s+{re.escape(word)}" for word in dict.fromkeys([last, self.kind]) if word]
        elif self.kind:
            names.append(rf"the\s+{re.escape(self.kind)}")
        return re.compile(rf"\b{_DETERMINER}(?:{'|'.join(names)})\b(?!['’]s)(?!\s+(?-i:[A-Z0-9]))", re.IGNORECASE)

    def mention(self, sentence: str) -> re.Match[str] | None:
        """Where the sentence names the subject as a subject or object, never as a modifier
        ("the town hall", "a glimmerball court", "Brindlemoor railway station")."""
        for found in self.mentions().finditer(sentence):
            following = re.match(r"\s+([A-Za-z]+)", sentence[found.end() :])
            if following:
                tags = {token.text: token.tag for token in tagged(sentence)}
                if tags.get(following.group(1), "").startswith("NN"):
                    continue
            return found
        return None


def document_subject(topic: str, folder_kind: str, sentences: list[str]) -> Subject | None:
    """The subject of a document whose leaf is named `topic` ("zephyr k3 kettle"): the longest
    run of the topic's first words the sentences say; its kind from the first sentence that
    says what it is ("... is a smart electric kettle"), else from the leaf's folder."""
    topic_words = words(topic)
    text = " ".join(sentences)
    for count in range(len(topic_words), 0, -1):
        pattern = r"\b" + r"\s+".join(map(re.escape, topic_words[:count])) + r"\b"
        spellings = Counter(match.group(0) for match in re.finditer(pattern, text, re.IGNORECASE))
        if spellings:
            break
    else:
        return None
    name = max(spellings, key=lambda spelling: (spelling[0].isupper(), spellings[spelling]))
    before = Counter(
        (re.findall(r"(\w+)\s+$", sentence[: match.start()]) or [""])[-1].lower()
        for sentence in sentences
        for match in re.finditer(rf"\b{re.escape(name)}\b", sentence)
    )
    said = f"the {name}" if before.most_common(1)[0][0] == "the" else name
    kind = ""
    for sentence in sentences:
        found = re.match(rf"(?:the\s+)?{re.escape(name)}\s+(?:is|was)\s+(?:a|an)\s+(.+)", sentence, re.IGNORECASE)
        if found:
            run = []
            for token in tagged(found.group(1)):
                if not token.tag.startswith(("JJ", "NN")):
                    break
                run.append(token)
            nouns = [token.text.lower() for token in run if token.tag.startswith("NN")]
            kind = nouns[-1] if nouns else ""
            break
    return Subject(name, said[:1].upper() + said[1:], kind or fold(folder_kind.split("_")[-1]))


def _question(text: str) -> str:
    text = text.strip().rstrip(".,;:!")
    return text[:1].upper() + text[1:] + "?"


_BREAK = re.compile(r"[,;:]\s+|\s+(?:and|but|while|which|who|because)\s+")
_OPENERS = re.compile(r"^(?:and|but|while|which|who|because)\s+", re.IGNORECASE)
BEFORE_WORDS, AFTER_WORDS = 9, 7  # the most words an echo question keeps either side of what it asks
LOOKUP_AFTER_WORDS = 12  # a look-up's subject opens its sentence: what follows is what it asks by


def _window(sentence: str, start: int, end: int, replacement: str, after_words: int = AFTER_WORDS) -> str:
    """The words around sentence[start:end] with it replaced: back to the start of its clause
    (further when that leaves under three words) and on to the end of it, at most BEFORE_WORDS
    and AFTER_WORDS words either side."""
    breaks = [(m.start(), m.end()) for m in _BREAK.finditer(sentence)]
    starts = [0] + [after for _, after in breaks if after <= start]
    begin = starts[-1]
    if len(sentence[begin:start].split()) < 3 and len(starts) > 1:
        begin = starts[-2]
    stop = next((before for before, _ in breaks if before >= end), len(sentence))
    before = _OPENERS.sub("", " ".join(sentence[begin:start].split()[-BEFORE_WORDS:])).split()
    after = sentence[end:stop].split()[:after_words]
    while after and after[-1].lower().strip(",;:.") in STOPWORDS:
        after.pop()
    return " ".join([*before, replacement, *after]).rstrip(",;:.")


def _wh(sentence: str, fact: Fact) -> tuple[int, int, str]:
    """Where in the sentence the fact is asked for and how: (start, end, words), e.g. "which
    year" for 1742, "how many metres" for "38 metres", "how many" for the "seven" of "seven
    arches", "which naturalist" for "the naturalist Tobias Quenby"."""
    if fact.kind == "name":
        noun = re.search(r"(?:\bthe\s+)?\b([a-z]+)\s+$", sentence[: fact.start])
        if noun and noun.group(1) not in STOPWORDS:
            tags = {token.text.lower(): token.tag for token in tagged(sentence)}
            if tags.get(noun.group(1), "").startswith("NN"):
                return noun.start(), fact.end, f"which {noun.group(1)}"
        start = fact.start - 4 if sentence[: fact.start].lower().endswith("the ") else fact.start
        if start == 0:  # a name opening its sentence; one with a digit is a code or a model ("E3 means ...")
            code = re.fullmatch(r"[A-Z]+\d\w*", sentence[fact.start : fact.end])
            return start, fact.end, "which code" if code else "what"
        return start, fact.end, "which name"
    if fact.is_year:
        return fact.start, fact.end, "which year"
    if fact.unit == "%":
        return fact.start, fact.end, "what percentage"
    if fact.unit:
        unit = words(sentence[fact.start : fact.end])[-1]
        return fact.start, fact.end, f"how many {unit}"
    return fact.start, fact.end, "how many"


def _named(subject: Subject, text: str) -> bool:
    return subject.mention(text) is not None or bool(set(words(subject.name)) & set(words(text)))


def _in_words(subject: Subject | None, text: str, linked: bool) -> str:
    """A question that says what it is about: a leading "It" that stands for the subject
    replaced by its name, else the subject's name put before a question that lacks it."""
    if subject is None:
        return text
    if linked and _PRONOUN_START.match(text):
        return _PRONOUN_START.sub(lambda m: subject.said + ("'s" if m.group(1) == "Its" else ""), text, count=1)
    if _named(subject, text):
        return text
    return f"{subject.name}: {text[:1].lower() + text[1:] if not text[:2].isupper() else text}"


MIN_ASKED_WORDS = 2  # salient words besides the fact's question that an echo must keep


def echo_question(subject: Subject | None, sentence: str, fact: Fact, linked: bool) -> str | None:
    """The fact's clause as a question, the fact replaced by how a reader asks for it ("A
    glimmerball court is a rectangle how many metres long?"), naming the subject."""
    start, end, asking = _wh(sentence, fact)
    text = _window(sentence, start, end, asking)
    skip = set(asking.split()) | set(words(subject.name if subject else ""))
    if len(salient_words(text, skip)) < MIN_ASKED_WORDS:
        return None
    return _question(_in_words(subject, text, linked))


def lookup(subject: Subject, sentence: str, linked: bool) -> tuple[str, str] | None:
    """(question, answer) asking for the subject from what the sentence says of it: its mention
    replaced by "which <kind>", answered by the sentence with the subject named there."""
    asking = f"which {subject.kind}" if subject.kind else "what"
    pronoun = _PRONOUN_START.match(sentence) if linked else None
    found = pronoun or subject.mention(sentence)
    if not found:
        return None
    possessive = "'s" if pronoun and pronoun.group(1) == "Its" else ""
    named = subject.said + possessive
    if found.start() > 0:
        named = named[:1].lower() + named[1:] if named.lower().startswith("the ") else named
    answer = sentence[: found.start()] + named + sentence[found.end() :]
    window = _window(sentence, found.start(), found.end(), asking + possessive, LOOKUP_AFTER_WORDS)
    return _question(window), answer


def continue_question(section: Section, sentence: str, facts: list[Fact]) -> str | None:
    """The opening of the sentence to complete, cut before its first fact (a number, a name)
    with at least 3 words before it, so the fact is what the model must recall; None for a
    sentence without one."""
    for fact in facts:
        opening = sentence[: fact.start].split()
        if len(opening) >= 3:
            return f'Complete this statement from the document on {section.title}: "{" ".join(opening)} ..."'
    return None


def document_candidates(job: LeafJob, sections: list[Section], forms: tuple[str, ...]) -> list[Candidate]:
    """The leaf's derived samples in document order, sections first, then the bare seeds."""
    candidates: list[Candidate] = []
    sentences = [sentence for section in sections for sentence in section.sentences]
    names = leaf_names(job.leaf, sentences)
    topic_words = set(words(topic_of(job.leaf)))
    subject = document_subject(topic_of(job.leaf), job.leaf.folder.parent.name, sentences)
    for section in sections:
        if "section" in forms:
            candidates.append(_derived("section", section_question(section), section.text))
        linked = False  # whether a leading "It" stands for the subject: it was the last sentence's
        for sentence in section.sentences:
            linked = subject is not None and (
                bool((found := subject.mention(sentence)) and found.start() == 0)
                or (linked and bool(_PRONOUN_START.match(sentence)))
            )
            if "subject_lookup" in forms and subject is not None and (pair := lookup(subject, sentence, linked)):
                candidates.append(_derived("subject_lookup", *pair))
            facts = sentence_facts(sentence, names, topic_words)
            if "fact_echo" in forms:
                for fact in facts:
                    if echoed := echo_question(subject, sentence, fact, linked):
                        candidates.append(_derived("fact_echo", echoed, sentence))
            if "sentence_topic" in forms and (question := topic_question(section, sentence)):
                candidates.append(_derived("sentence_topic", question, sentence))
            if "sentence_continue" in forms and (question := continue_question(section, sentence, facts)):
                candidates.append(_derived("sentence_continue", question, sentence))
            if "sentence_fact" in forms:
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
