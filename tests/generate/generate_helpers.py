"""Leaves written for the generate tests."""

from pathlib import Path

import yaml


def write_skill(
    root: Path,
    name: str,
    questions: list[str],
    context: str | None = None,
    task: str = "Answer questions about garden birds",
) -> Path:
    """A version 3 skill leaf with one seed per question; returns its qna.yaml."""
    kind = "compositional_skills/grounded" if context else "compositional_skills"
    path = root / kind / name / "qna.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    seeds = [
        {
            "question": q,
            "answer": f"A careful answer about garden birds, number {i}, in one sentence.",
            **({"context": context} if context else {}),
        }
        for i, q in enumerate(questions)
    ]
    path.write_text(
        yaml.safe_dump({"version": 3, "created_by": "test", "task_description": task, "seed_examples": seeds})
    )
    return path


BIRD_QUESTIONS = [
    "What do garden birds eat in winter?",
    "Where do robins build their nests?",
    "How do sparrows keep warm at night?",
]
