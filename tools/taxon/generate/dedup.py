"""Near-duplicate removal: normalised token sets compared by Jaccard similarity."""

from __future__ import annotations

from collections.abc import Iterable

from taxon.qna.text import jaccard, words

DUPLICATE, NEAR_DUPLICATE = "duplicate", "near_duplicate"


class DuplicateFilter:
    """Remembers the texts it accepted; says whether a new one repeats one of them."""

    def __init__(self, threshold: float, reference: Iterable[str] = ()):
        self.threshold = threshold
        self._exact: set[tuple[str, ...]] = set()
        self._sets: list[frozenset[str]] = []
        for text in reference:
            self.accept(text)

    def problem(self, text: str, near: bool = True) -> str | None:
        """DUPLICATE, or NEAR_DUPLICATE (unless `near` is false), or None."""
        tokens = tuple(words(text))
        if tokens in self._exact:
            return DUPLICATE
        token_set = frozenset(tokens)
        if near and any(jaccard(token_set, other) >= self.threshold for other in self._sets):
            return NEAR_DUPLICATE
        return None

    def accept(self, text: str) -> None:
        tokens = tuple(words(text))
        self._exact.add(tokens)
        self._sets.append(frozenset(tokens))

    def check(self, text: str, near: bool = True) -> str | None:
        """The problem with the text, accepting it when there is none."""
        problem = self.problem(text, near)
        if problem is None:
            self.accept(text)
        return problem
