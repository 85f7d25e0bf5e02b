"""Leaves written into temp folders for the validator's tests, and the shared corpus paths.

Test modules import the fixtures from here (`from validate_helpers import make_leaf`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest


def _suite_conftest():
    """tests/conftest.py by path: the corpus constants live there, and `import conftest`
    is ambiguous when other test folders have their own conftest.py."""
    spec = importlib.util.spec_from_file_location("taxon_suite_conftest", Path(__file__).parents[1] / "conftest.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_suite = _suite_conftest()
REPO, CORPUS, CORPUS_2024 = _suite.REPO, _suite.CORPUS, _suite.CORPUS_2024


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
