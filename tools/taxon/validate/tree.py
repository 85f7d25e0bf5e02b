"""Tree-wide rules over every leaf validated together: the same question in two leaves (T001)
and two leaves whose questions nearly coincide (T002). Both are warnings naming both paths:
parallel pull requests on one topic collide all the time, and a person decides."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass

from taxon.core.findings import Finding
from taxon.core.rules import finding

# A seed's identity: its context and its question, each normalised (the context "" when it has
# none); () for a seed without a question. One context's string is shared by its seeds' keys.
SeedKey = tuple[str, ...]


@dataclass(frozen=True)
class LeafQuestions:
    path: str  # as displayed
    questions: dict[SeedKey, tuple[int, int]]  # a seed's key -> line, column of its first question


def tree_findings(leaves: list[LeafQuestions], overlap: float) -> list[Finding]:
    holders: dict[SeedKey, list[int]] = defaultdict(list)
    for number, leaf in enumerate(leaves):
        for question in leaf.questions:
            holders[question].append(number)
    close_pairs = _close_pairs(leaves, holders, overlap)
    found = []
    for (first, second), shared in sorted(close_pairs.items()):
        for this, other in ((first, second), (second, first)):
            found.append(
                finding(
                    leaves[this].path,
                    1,
                    1,
                    "T002",
                    f"{shared} of this leaf's {len(leaves[this].questions)} questions are also in {leaves[other].path}: "
                    "merge the two leaves or make them distinct",
                )
            )
    close_to: dict[int, set[int]] = defaultdict(set)  # each leaf's T002 partners: no T001 between them
    for first, second in close_pairs:
        close_to[first].add(second)
        close_to[second].add(first)
    for question, numbers in holders.items():
        if len(numbers) < 2:
            continue
        for this in numbers:
            partners = close_to.get(this, ())
            others = [n for n in numbers if n != this and n not in partners]
            if not others:
                continue
            more = f" (and {len(others) - 1} more leaves)" if len(others) > 1 else ""
            found.append(
                finding(
                    leaves[this].path,
                    *leaves[this].questions[question],
                    "T001",
                    f"the same question is in {leaves[others[0]].path}{more}: ask something the other leaf doesn't",
                )
            )
    return found


def _close_pairs(
    leaves: list[LeafQuestions], holders: dict[SeedKey, list[int]], overlap: float
) -> dict[tuple[int, int], int]:
    """Pairs of leaves whose question sets have a Jaccard similarity of at least `overlap`,
    found through the questions they share (never all pairs), each with the count it shares."""
    pairs = {}
    for number, leaf in enumerate(leaves):
        shared = Counter(other for question in leaf.questions for other in holders[question] if other > number)
        for other, count in shared.items():
            union = len(leaf.questions) + len(leaves[other].questions) - count
            if union and count / union >= overlap:
                pairs[number, other] = count
    return pairs


def leaf_questions(path: str, questions: list[tuple[SeedKey, tuple[int, int]]]) -> LeafQuestions:
    """A leaf's seeds keyed by `SeedEntry.key`, each with the place of its first question."""
    table: dict[SeedKey, tuple[int, int]] = {}
    for key, place in questions:
        if key:
            table.setdefault(key, place)
    return LeafQuestions(path, table)
