"""A scripted teacher: a test double of an external model, implementing the Teacher protocol
with replies driven by markers in the prompt, so each test can say what the model does.

Markers in a seed question (they carry into the questions made from it):
  [refuse] [empty] [malformed] [cutoff] [error] [offtopic] [dupes]  -- the list of questions
  [answer-refuse] [answer-empty] [answer-cutoff]                    -- the answers
  [wrong]                                                            -- a low judge score
  [units-right] [units-wrong]     -- "4 m = 400 cm." and "90 cm = 90 m." (a unit-conversion leaf's answers)
  [flaky]                         -- a right conversion whose figures change with the sampling seed
An answer whose worked example is short (at most 8 words, a fixed form) imitates it, with the
question's numbers in place of the example's (without numbers, a word of its own in place of the
example's last: a copy of a seed's answer would be dropped; with [restate] in the question, the
question's last word, an answer that says nothing the question does not).
"""

from __future__ import annotations

import hashlib
import re

from taxon.backends.base import ChatRequest, Completion

VOCABULARY = [
    "amber",
    "basil",
    "cedar",
    "delta",
    "ember",
    "fjord",
    "garnet",
    "harbor",
    "iris",
    "juniper",
    "kelp",
    "lumen",
    "maple",
    "nectar",
    "onyx",
    "pepper",
    "quartz",
    "raven",
    "saffron",
    "tundra",
    "umber",
    "velvet",
    "willow",
    "xenon",
    "yarrow",
    "zephyr",
    "acorn",
    "birch",
    "cobalt",
    "dune",
    "eagle",
    "fern",
    "glacier",
    "heron",
    "indigo",
    "jasper",
    "kestrel",
    "lichen",
    "marble",
    "nutmeg",
    "orchid",
    "pine",
    "quill",
    "reef",
    "sable",
    "thistle",
    "urchin",
    "violet",
    "walnut",
    "yew",
    "zinc",
    "anchor",
    "beacon",
    "canyon",
    "dragon",
    "estuary",
    "falcon",
    "grove",
    "hollow",
    "island",
    "jetty",
    "knoll",
    "lagoon",
    "meadow",
    "nebula",
    "oasis",
    "prairie",
    "quarry",
]


def _words_for(text: str, count: int) -> list[str]:
    digest = hashlib.sha256(text.encode()).digest()
    return [VOCABULARY[b % len(VOCABULARY)] for b in digest[:count]]


def _between(text: str, start: str, end: str) -> str:
    match = re.search(re.escape(start) + r"\s*(.*?)\s*" + re.escape(end), text, re.DOTALL)
    return match.group(1) if match else ""


def _worked_answer(request: ChatRequest) -> str:
    """The worked example's answer in an answer request (system, example question, example
    answer, question), else ""."""
    messages = request.messages
    if len(messages) >= 4 and messages[0]["role"] == "system" and messages[2]["role"] == "assistant":
        return messages[2]["content"]
    return ""


class ScriptedTeacher:
    def __init__(
        self,
        name: str = "scripted:v1",
        loglikelihood: bool = True,
        fail_after: int | None = None,
        failure: BaseException | None = None,
    ):
        self.name = name
        self.supports_loglikelihood = loglikelihood
        self.requests: list[ChatRequest] = []
        self.scored = 0
        self.fail_after = fail_after  # raise `failure` once this many requests were answered
        self.failure = failure

    @property
    def calls(self) -> int:
        return len(self.requests) + self.scored

    def _check_failure(self, count: int) -> None:
        if self.fail_after is not None and self.calls + count > self.fail_after:
            raise self.failure

    def chat(self, requests, progress=None):
        self._check_failure(len(requests))
        self.requests += requests
        return [self.reply(request) for request in requests]

    def answer_loglikelihood(self, items):
        if not self.supports_loglikelihood:
            return None
        self._check_failure(len(items))
        self.scored += len(items)
        return [-6.0 if "[wrong]" in messages[-1]["content"] else -1.0 for messages, _ in items]

    def reply(self, request: ChatRequest) -> Completion:
        prompt = request.messages[-1]["content"]
        if prompt.startswith("Rate how"):
            return Completion("Score: 2" if "[wrong]" in prompt else "**5**", "stop")
        if "Write " in prompt and "numbered list" in prompt:
            return self.list_reply(prompt)
        return self.answer_reply(prompt, request.seed or 0, _worked_answer(request))

    def list_reply(self, prompt: str) -> Completion:
        example = (
            _between(prompt, "Here is an example task:", "\n\nWrite")
            or _between(prompt, "Here is an example input text:", "\n\nWrite")
            or _between(prompt, "Question:", "\nAnswer:")
        )
        count = int(re.search(r"Write (\d+) new", prompt).group(1))
        for marker, completion in (
            ("[refuse]", Completion("I'm sorry, but as an AI I cannot help with that.", "stop")),
            ("[empty]", Completion("   ", "stop")),
            ("[malformed]", Completion("?", "stop")),
            ("[error]", Completion("", "error", error="HTTP 500")),
        ):
            if marker in example:
                return completion
        if "[offtopic]" in example:
            items = [
                "Who painted the Sistine chapel ceiling?",
                "What is the tallest mountain in Europe?",
                "How do volcanoes erupt?",
                "Which planet has rings?",
            ][:count]
        elif "[dupes]" in example:
            items = [f"{example} Please, variant {i}." for i in range(count)]
        else:
            items = [f"{example} Consider {' '.join(_words_for(example + str(i), 2))}." for i in range(count)]
        text = "Here are the new ones:\n" + "\n".join(f"{i + 1}. {item}" for i, item in enumerate(items))
        if "[cutoff]" in example:
            return Completion(text[: len(text) - 8], "length")
        return Completion(text, "stop")

    def answer_reply(self, prompt: str, seed: int = 0, example: str = "") -> Completion:
        for marker, text in (
            ("[units-right]", "4 m = 400 cm."),
            ("[units-wrong]", "90 cm = 90 m."),
            ("[flaky]", f"{seed % 97 + 1} cm = {(seed % 97 + 1) * 10} mm."),
        ):
            if marker in prompt:
                return Completion(text, "stop")
        if "[answer-refuse]" in prompt:
            return Completion("As an AI language model, I cannot answer that.", "stop")
        if "[answer-empty]" in prompt:
            return Completion("", "stop")
        if "[answer-cutoff]" in prompt:
            return Completion("The answer starts but never", "length")
        if "Please" in prompt:  # [dupes]: the same answer to near-identical questions
            return Completion("The same answer every time.", "stop")
        if example and len(example.split()) <= 8:  # a short fixed form: imitate it, with the question's numbers
            numbers = iter(re.findall(r"-?\d+(?:\.\d+)?", prompt))
            imitated = re.sub(r"-?\d+(?:\.\d+)?", lambda m: next(numbers, m.group(0)), example)
            if imitated == example and len(example.split()) > 1:  # no number to change: a word in place of its last
                last = re.findall(r"[A-Za-z]+", prompt.rsplit("\n", 1)[-1])
                own = [word for word in _words_for(prompt, 8) if word not in prompt.lower()] or ["it"]
                said = last[-1] if last and "[restate]" in prompt else own[0]
                imitated = re.sub(r"[A-Za-z]+(?=\W*$)", said, example)
            return Completion(imitated, "stop")
        return Completion("Answer: " + " ".join(_words_for(prompt, 8)) + ".", "stop")
