"""Leaves written into temp folders for the validator's tests, and the shared corpus paths.

The fixtures over these are in tests/validate/conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from support.paths import CORPUS, CORPUS_2024, REPO

__all__ = ["CORPUS", "CORPUS_2024", "REPO"]


def need(corpus: Path) -> Path:
    if not corpus.is_dir():
        pytest.skip(f"corpus not present: {corpus}")
    return corpus


ANIMALS = ["otter", "heron", "badger", "falcon", "salamander", "walrus", "gecko"]
ATTRIBUTION = "Title of work: test leaf\nLink to work: https://example.org\nLicense of the work: CC-BY-4.0\nCreator names: tests\n"


def skill_text(version: int | None = 4, seeds: int = 5) -> str:
    lines = ["created_by: tester"]
    if version is not None:
        lines.append(f"version: {version}")
    lines += ["task_description: Describe an animal in one sentence.", "seed_examples:"]
    for animal in ANIMALS[:seeds]:
        lines += [
            f"  - question: Describe the {animal} in one sentence.",
            f"    answer: The {animal} is an animal called {animal} with {len(animal)} letters.",
        ]
    return "\n".join(lines) + "\n"


def knowledge_text(version: int = 4, contexts: int = 5, document: str | None = None) -> str:
    lines = [
        "created_by: tester",
        f"version: {version}",
        "domain: zoology",
        "document_outline: Facts about animals.",
        "seed_examples:",
    ]
    for animal in ANIMALS[:contexts]:
        lines += [
            "  - context: |",
            f"      The {animal} lives near water and eats fish. Its name is {animal}.",
            "    questions_and_answers:",
        ]
        for question, answer in (
            ("Where does the {a} live?", "The {a} lives near water."),
            ("What does the {a} eat?", "The {a} eats fish."),
            ("What is the name of the {a}?", "Its name is {a}."),
        ):
            lines += [f"      - question: {question.format(a=animal)}", f"        answer: {answer.format(a=animal)}"]
    lines.append(document if document is not None else "document:\n  patterns:\n    - animals.md")
    return "\n".join(lines) + "\n"
