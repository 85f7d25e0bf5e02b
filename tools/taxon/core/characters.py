"""Characters a reader cannot see: Unicode's format characters (category Cf: zero-width
spaces, word joiners U+2060-U+2064, the soft hyphen, interlinear annotations, the tag block
U+E0000-U+E007F that can spell a whole instruction invisibly) and private-use characters.
Text a contributor writes reaches the teacher and the model; a reviewer must see all of it.
ZWNJ and ZWJ (U+200C, U+200D) are needed in some scripts and in emoji, so they only warn.

The ranges are written out (scanning every code point at import would slow `taxon validate`);
a test checks them against the running Python's unicodedata."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

JOINERS = "\u200c\u200d"
_FORMAT = (
    "\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f"
    "\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0000-\U000e007f"
)
_PRIVATE_USE = "\ue000-\uf8ff\U000f0000-\U000ffffd\U00100000-\U0010fffd"
INVISIBLE = re.compile(f"[{_FORMAT}{_PRIVATE_USE}]")
_INVISIBLE_RUN = re.compile(f"[{_FORMAT}{_PRIVATE_USE}]+")


def describe(char: str) -> str:
    """'U+200B ZERO WIDTH SPACE', or the code point and 'private use'."""
    return f"U+{ord(char):04X} {unicodedata.name(char, 'private use' if unicodedata.category(char) == 'Co' else '')}".strip()


def invisible_runs(text: str, limit: int) -> Iterator[tuple[int, int, str]]:
    """(line, column, run) of the first `limit` runs of invisible characters, 1-based: a
    sentence spelled in tag characters is one run."""
    line, counted_to = 1, 0
    for _, match in zip(range(limit), _INVISIBLE_RUN.finditer(text), strict=False):
        line += text.count("\n", counted_to, match.start())
        counted_to = match.start()
        yield line, match.start() - text.rfind("\n", 0, match.start()), match.group()
