"""Characters a reviewer cannot see, decided by what renders. Text a contributor writes
(seeds, contexts, task descriptions, documents) reaches the teacher and the model; a
reviewer must see all of it, so a character that renders as nothing is refused wherever it
stands, and one that renders only as part of something visible is refused elsewhere.

Hidden, by Unicode properties (the `regex` module's tables of the Unicode Character
Database; the standard library's unicodedata has no Default_Ignorable_Code_Point):
- Default_Ignorable_Code_Point (DerivedCoreProperties.txt): zero-width spaces and joiners,
  word joiners, bidi controls, variation selectors (U+FE00-FE0F, U+E0100-E01EF: one can
  spell a byte), the tag block, U+034F, the Hangul fillers U+115F, U+1160, U+3164, U+FFA0,
  U+17B4-17B5, the soft hyphen, Mongolian selectors;
- every other format character (Cf: interlinear annotations, Egyptian and musical format
  controls) and private use (Co: no font the reviewer has draws them as the model reads them);
- glyphs drawn blank: U+2800 BRAILLE PATTERN BLANK and U+1D159 MUSICAL SYMBOL NULL NOTEHEAD;
- the line and paragraph separators U+2028, U+2029 (a break to YAML and Python, nothing to
  many viewers) and control characters other than tab, line feed, carriage return and form
  feed (qna.yaml reports those as Y004 before).
Spaces of other widths (White_Space: U+00A0, U+2000-200A, U+202F, U+3000, ...) render as the
gap they are, so they pass: 44 of the 147 leaves of the 2024 InstructLab corpus hold no-break
spaces (mostly padding tables), 2 of today's 16.

Allowed where they render as part of something visible (nothing else):
- U+FE0E / U+FE0F once, right after a character with the Emoji property (text or emoji
  presentation: "I ❤️ it", keycaps "#️⃣");
- U+200D in an emoji ZWJ sequence: between an Extended_Pictographic character (optionally
  with its skin-tone modifier or U+FE0F) and another one ("👩‍💻", "🏳️‍🌈");
- U+200C and U+200D where IDNA's CONTEXTJ rules allow them (RFC 5892, appendix A.1-A.2):
  after a virama (Indic conjuncts), and U+200C between Arabic-script joining letters
  (Persian "می‌خواهم");
- tag characters in an emoji tag sequence: U+1F3F4, then 3 to 6 tag letters or digits
  closed by U+E007F (the subdivision flags of UTS #51, such as Scotland's);
- U+2800 between two other braille patterns (the braille word space).
Refused although some text uses them: ideographic variation sequences (U+E0100-E01EF after
CJK ideographs: the base ideograph is the same character), ZWNJ between Latin letters, more
than one selector or joiner in a row. Controls and bidi controls of qna.yaml have rules of
their own (Y004, Y005) in taxon.qna.loader.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

# Every character that may be hidden, depending on where it stands (decided by _hidden); in
# ASCII only control characters are. The patterns with Unicode properties need the regex
# package, 10 ms to import: text with nothing outside ASCII (most of a taxonomy) never does.
_UNICODE_CANDIDATES = (
    r"[\p{Default_Ignorable_Code_Point}\p{Cf}\p{Co}\p{Zl}\p{Zp}\u2800\U0001D159\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]+"
)
_ASCII_CANDIDATES = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]+")


@functools.cache
def _unicode() -> SimpleNamespace:
    import regex

    return SimpleNamespace(
        candidates=regex.compile(_UNICODE_CANDIDATES),
        emoji=regex.compile(r"\p{Emoji}"),
        pictographic=regex.compile(r"\p{Extended_Pictographic}"),
        modifier=regex.compile(r"\p{Emoji_Modifier}"),
        joins_left=regex.compile(r"[\p{Joining_Type=Dual_Joining}\p{Joining_Type=Left_Joining}]"),
        joins_right=regex.compile(r"[\p{Joining_Type=Dual_Joining}\p{Joining_Type=Right_Joining}]"),
        transparent=regex.compile(r"\p{Joining_Type=Transparent}"),
        tag_sequence=regex.compile(r"[\U000E0030-\U000E0039\U000E0061-\U000E007A]{3,6}\U000E007F"),
    )


def _candidates(text: str) -> Any:
    return _ASCII_CANDIDATES if text.isascii() else _unicode().candidates


_VIRAMA = 9  # canonical combining class
ZWNJ, ZWJ, VS15, VS16, BLACK_FLAG = "\u200c", "\u200d", "\ufe0e", "\ufe0f", "\U0001f3f4"
BRAILLE_BLANK = "\u2800"


@dataclass(frozen=True)
class HiddenRun:
    """Characters a reviewer cannot see, side by side: `start` is an index into the text."""

    start: int
    text: str

    def code_points(self, shown: int = 3) -> str:
        """'U+200B ZERO WIDTH SPACE x2, U+2060 WORD JOINER' (the first `shown` distinct ones)."""
        counts: dict[str, int] = {}
        for char in self.text:
            counts[char] = counts.get(char, 0) + 1
        named = [f"{describe(char)}{f' x{n}' if n > 1 else ''}" for char, n in list(counts.items())[:shown]]
        if len(counts) > shown:
            others = len(counts) - shown
            named.append(f"{others} other kind{'s' if others > 1 else ''}")
        return ", ".join(named)

    def summary(self) -> str:
        """What a finding says about the run: its code points and, for more than one, the count."""
        count = f" ({len(self.text)} in a row)" if len(self.text) > 1 else ""
        return f"{self.code_points()}{count}"


def describe(char: str) -> str:
    """'U+200B ZERO WIDTH SPACE', or the code point and 'private use' / 'unassigned'."""
    category = unicodedata.category(char)
    fallback = {"Co": "private use", "Cn": "unassigned"}.get(category, "")
    return f"U+{ord(char):04X} {unicodedata.name(char, fallback)}".strip()


def hidden_runs(text: str) -> Iterator[HiddenRun]:
    """Each run of characters a reviewer cannot see, in order: every one, not only the first."""
    for match in _candidates(text).finditer(text):
        start, run = match.start(), match.group()
        flag_tags = _unicode().tag_sequence.match(text, start) if start and text[start - 1] == BLACK_FLAG else None
        tags_end = flag_tags.end() if flag_tags else start
        hidden_from = None
        for offset in range(len(run)):
            if start + offset >= tags_end and _hidden(text, start + offset):
                if hidden_from is None:
                    hidden_from = offset
            elif hidden_from is not None:
                yield HiddenRun(start + hidden_from, run[hidden_from:offset])
                hidden_from = None
        if hidden_from is not None:
            yield HiddenRun(start + hidden_from, run[hidden_from:])


def has_hidden(text: str) -> bool:
    return next(hidden_runs(text), None) is not None


def may_hide(chars: str) -> bool:
    """Whether any of these characters can be hidden, depending on where it stands: when none
    can, no run of `hidden_runs` of any text holds one of them."""
    return _candidates(chars).search(chars) is not None


def _hidden(text: str, index: int) -> bool:
    char = text[index]
    before = text[index - 1] if index else ""
    after = text[index + 1] if index + 1 < len(text) else ""
    if char in (VS15, VS16):
        return not (before and _unicode().emoji.match(before) and before not in (VS15, VS16))
    if char == ZWJ:
        return not (_after_virama(before) or _in_emoji_sequence(text, index))
    if char == ZWNJ:
        return not (_after_virama(before) or _between_joining_letters(text, index))
    if char == BRAILLE_BLANK:
        return not ("\u2801" <= before <= "\u28ff" and "\u2801" <= after <= "\u28ff")
    return True


def _after_virama(before: str) -> bool:
    return bool(before) and unicodedata.combining(before) == _VIRAMA


def _in_emoji_sequence(text: str, index: int) -> bool:
    """A ZWJ between two pictographs, the first maybe with its modifier or U+FE0F."""
    back = index - 1
    if back >= 0 and (text[back] == VS16 or _unicode().modifier.match(text[back])):
        back -= 1
    return (
        back >= 0
        and index + 1 < len(text)
        and bool(_unicode().pictographic.match(text[back]) and _unicode().pictographic.match(text[index + 1]))
    )


def _between_joining_letters(text: str, index: int) -> bool:
    """RFC 5892 A.1: (Joining_Type L or D) T* ZWNJ T* (Joining_Type R or D)."""
    back = index - 1
    while back >= 0 and _unicode().transparent.match(text[back]):
        back -= 1
    ahead = index + 1
    while ahead < len(text) and _unicode().transparent.match(text[ahead]):
        ahead += 1
    return (
        back >= 0
        and ahead < len(text)
        and bool(_unicode().joins_left.match(text[back]) and _unicode().joins_right.match(text[ahead]))
    )
