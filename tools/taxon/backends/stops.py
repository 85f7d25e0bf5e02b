"""Stop strings in a text that grows at its end, found in time linear in the text whatever
their length: one Knuth-Morris-Pratt automaton per stop string, each new character fed once.
Its state is the longest start of the stop string that the text ends with, which is also how
much of a streamed text must be held back (it may yet become the stop string)."""

from __future__ import annotations


def _failure(stop: str) -> list[int]:
    """failure[i]: the longest proper prefix of stop[: i + 1] that is also its suffix."""
    failure = [0] * len(stop)
    k = 0
    for i in range(1, len(stop)):
        while k and stop[i] != stop[k]:
            k = failure[k - 1]
        if stop[i] == stop[k]:
            k += 1
        failure[i] = k
    return failure


class StopMatcher:
    def __init__(self, stops: tuple[str, ...]):
        self.stops = stops
        self.failures = [_failure(stop) for stop in stops]
        self.reset()

    def reset(self) -> None:
        self.states = [0] * len(self.stops)
        self.fed = 0  # characters of the text fed so far
        self.tail = ""  # the last character fed, to notice a text that changed behind us
        self.hit = False

    def feed(self, text: str) -> bool:
        """`text` is the whole text so far; True once it holds a stop string. A decoder may
        rewrite the last characters it gave (an incomplete character completed): when the
        text no longer extends what was fed, the matcher starts again from the beginning."""
        if len(text) < self.fed or (self.fed and text[self.fed - 1] != self.tail):
            self.reset()
        for char in text[self.fed :]:
            for j, stop in enumerate(self.stops):
                k, failure = self.states[j], self.failures[j]
                while k and char != stop[k]:
                    k = failure[k - 1]
                if char == stop[k]:
                    k += 1
                if k == len(stop):
                    self.hit = True
                    k = failure[k - 1]
                self.states[j] = k
        if len(text) > self.fed:
            self.fed, self.tail = len(text), text[-1]
        return self.hit

    @property
    def held(self) -> int:
        """How many characters at the text's end could begin a stop string."""
        return max(self.states, default=0)
