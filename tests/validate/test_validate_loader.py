"""The safe loader on hostile inputs: each is answered by a finding with a line number, fast,
and nothing in a file is ever constructed beyond plain data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from support.leaves import CORPUS, CORPUS_2024, need
from taxon.core.errors import TaxonError
from taxon.core.settings import ValidateSettings
from taxon.qna.loader import load_qna, parse_text, read_qna

DEFAULTS = ValidateSettings()

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def rules_of(parsed) -> list[str]:
    return [f.rule for f in parsed.findings]


def write(tmp_path: Path, content: bytes | str, name: str = "qna.yaml") -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def only(parsed, rule: str):
    found = [f for f in parsed.findings if f.rule == rule]
    assert found, parsed.findings
    return found[0]


@pytest.mark.parametrize(
    ("text", "rule", "line"),
    [
        (BILLION_LAUGHS, "Y006", 1),
        ("a: 1\nb: *nothing\n", "Y006", 2),
        ("created_by: x\nseed: !!python/object/apply:os.system ['echo hacked']\n", "Y007", 2),
        ("created_by: x\nseed: !!python/name:os.system\n", "Y007", 2),
        ("a: !custom 1\n", "Y007", 1),
        ("a: 1\n---\nb: 2\n", "Y008", 2),
        ("created_by: x\ncreated_by: y\n", "Y010", 2),
        ("a: [1, 2\nb: 3\n", "Y001", 2),
        ("a: b: c\n", "Y001", 1),
        ("? [a, b]\n: 1\n", "Y014", 1),
        ("- just\n- a list\n", "Y013", 1),
        ("", "Y013", 1),
        ("a: 1\nb: x\x00y\n", "Y004", 2),
        ('a: 1\nb: "esc\\x07aped"\n', "Y004", 2),
        ("a: 1\nb: safe \u202eevil\n", "Y005", 2),
        ('a: 1\nb: "\\u2066hidden"\n', "Y005", 2),
    ],
)
def test_hostile_text_is_a_finding_with_a_line(text, rule, line):
    parsed = parse_text(text, "qna.yaml")
    found = only(parsed, rule)
    assert found.line == line and found.column >= 1
    assert found.message


def test_billion_laughs_is_refused_at_the_first_anchor_without_expanding():
    parsed = parse_text(BILLION_LAUGHS, "qna.yaml")
    assert parsed.data is None
    assert [(f.rule, f.line, f.column) for f in parsed.findings] == [("Y006", 1, 4)]


def test_python_tags_are_never_constructed(tmp_path):
    marker = tmp_path / "pwned"
    text = f"a: !!python/object/apply:os.system ['touch {marker}']\n"
    parsed = parse_text(text, "qna.yaml")
    assert parsed.data is None and not marker.exists()


@pytest.mark.parametrize("depth", [50, 100_000])
def test_deep_nesting_stops_at_the_configured_depth(depth):
    parsed = parse_text("a: " + "[" * depth + "]" * depth + "\n", "qna.yaml")
    found = only(parsed, "Y009")
    assert found.line == 1 and parsed.data is None
    if depth == 50:
        assert found.column == 3 + DEFAULTS.max_depth


def test_deep_block_nesting_stops_at_the_configured_depth():
    block = "".join(f"{'  ' * level}k{level}:\n" for level in range(12)) + "  " * 12 + "leaf: 1\n"
    assert only(parse_text(block, "qna.yaml"), "Y009").line == DEFAULTS.max_depth + 1


def test_a_30_mb_file_is_refused_unread(tmp_path):
    path = tmp_path / "qna.yaml"
    with open(path, "wb") as handle:
        handle.truncate(30 * 1024 * 1024)
    parsed = read_qna(path)
    assert rules_of(parsed) == ["Y002"] and parsed.findings[0].line == 1
    smaller = read_qna(write(tmp_path, "a: " + "x" * 200 + "\n", "small.yaml"), ValidateSettings(max_file_bytes=100))
    assert rules_of(smaller) == ["Y002"]


def test_a_file_grown_after_its_size_was_read_is_read_to_the_cap(tmp_path, monkeypatch):
    """The read asks for the size the file had (not for the whole cap): one that grew since
    is read on, whole when it is still within the cap, refused when it went past it."""
    lstat, fstat = os.lstat, os.fstat

    def measured_small(real):
        return lambda target: os.stat_result((*real(target)[:6], 4, *real(target)[7:]))  # st_size 4

    monkeypatch.setattr(os, "lstat", measured_small(lstat))
    monkeypatch.setattr(os, "fstat", measured_small(fstat))
    grown = read_qna(write(tmp_path, "a: " + "x" * 50 + "\n"), ValidateSettings(max_file_bytes=100))
    assert grown.findings == [] and grown.data == {"a": "x" * 50}
    over = read_qna(write(tmp_path, "a: " + "x" * 200 + "\n"), ValidateSettings(max_file_bytes=100))
    assert rules_of(over) == ["Y002"] and "over the cap of 100 bytes" in over.findings[0].message


def test_invalid_utf8_names_the_line_and_column(tmp_path):
    parsed = read_qna(write(tmp_path, b"created_by: x\nanswer: caf\xe9\n"))
    found = only(parsed, "Y003")
    assert (found.line, found.column) == (2, 12) and parsed.data is None


@pytest.mark.parametrize("encoding", ["utf-16", "utf-32"])
def test_utf16_and_utf32_byte_order_marks_are_refused(tmp_path, encoding):
    parsed = read_qna(write(tmp_path, "created_by: x\n".encode(encoding)))
    found = only(parsed, "Y003")
    assert found.line == 1 and encoding.upper() in found.message


def test_utf8_byte_order_mark_is_reported_but_the_file_still_reads(tmp_path):
    parsed = read_qna(write(tmp_path, b"\xef\xbb\xbfcreated_by: x\n"))
    assert rules_of(parsed) == ["Y003"] and parsed.data == {"created_by": "x"}


def test_nul_bytes_are_refused_with_their_place(tmp_path):
    parsed = read_qna(write(tmp_path, b"created_by: x\nanswer: a\x00b\n"))
    found = only(parsed, "Y004")
    assert (found.line, found.column) == (2, 10) and parsed.data is None


def test_bidi_characters_are_errors_at_their_place(tmp_path):
    parsed = read_qna(write(tmp_path, "created_by: x\nanswer: abc\u2067def\n"))
    found = only(parsed, "Y005")
    assert (found.line, found.column) == (2, 12) and found.severity == "error"


def test_symlinks_are_refused(tmp_path):
    target = write(tmp_path, "created_by: x\n", "real.yaml")
    link = tmp_path / "qna.yaml"
    os.symlink(target, link)
    parsed = read_qna(link)
    assert rules_of(parsed) == ["Y011"] and parsed.findings[0].line == 1 and parsed.data is None


def test_missing_and_non_regular_files_are_findings(tmp_path):
    assert rules_of(read_qna(tmp_path / "absent.yaml")) == ["Y012"]
    assert rules_of(read_qna(tmp_path)) == ["Y012"]


def test_duplicate_keys_name_the_first_one_and_keep_it():
    parsed = parse_text("a: 1\nb:\n  c: 2\n  c: 3\n", "qna.yaml")
    found = only(parsed, "Y010")
    assert (found.line, found.column) == (4, 3) and "line 3" in found.message
    assert parsed.data == {"a": 1, "b": {"c": 2}}


def test_positions_point_at_each_node_and_key():
    parsed = parse_text("created_by: me\nseed_examples:\n  - question: q\n    answer: a\n", "qna.yaml")
    assert parsed.position(("seed_examples", 0, "answer")) == (4, 13)
    assert parsed.position(("seed_examples", 0, "answer"), key=True) == (4, 5)
    assert parsed.position(("seed_examples", 5, "answer")) == (3, 3)  # nearest ancestor that exists


def test_load_qna_raises_taxon_error_with_the_place(tmp_path):
    path = write(tmp_path, "a: 1\na: 2\n")
    with pytest.raises(TaxonError) as raised:
        load_qna(path)
    assert raised.value.where == f"{path}:2:1" and "Y010" in raised.value.message
    assert load_qna(write(tmp_path, "created_by: me\nversion: 3\n", "ok.yaml")) == {"created_by": "me", "version": 3}


@pytest.mark.parametrize("corpus", [CORPUS, CORPUS_2024])
def test_corpus_files_load_exactly_as_pyyaml_safe_load_reads_them(corpus):
    files = sorted(need(corpus).rglob("qna.yaml"))
    assert files
    for path in files:
        parsed = read_qna(path)
        # Only Y015: the 2024 corpus has a private-use bullet (U+F020) pasted from a PDF font.
        assert all(found.rule == "Y015" for found in parsed.findings), path
        assert parsed.data == yaml.safe_load(path.read_text(encoding="utf-8")), path


def test_values_that_only_look_like_dates_or_numbers_stay_text():
    parsed = parse_text("a: 2024-13-45\nb: " + "9" * 5000 + "\nc: 2024-01-02\nd: 0x1F\n", "qna.yaml")
    assert parsed.findings == []
    assert parsed.data["a"] == "2024-13-45" and parsed.data["b"] == "9" * 5000 and parsed.data["d"] == 31
    assert str(parsed.data["c"]) == "2024-01-02"  # a real date: the schema then asks for text


def test_escaped_invisible_characters_are_placed_at_their_escapes_and_each_named():
    """A double-quoted scalar spelling private-use characters as escapes (as 15 extraction
    skills of the 2024 corpus do, PDF font bullets): one finding, at the first escape (not
    the string's start), naming every code point with the lines of its escapes."""
    text = (
        'created_by: me\nanswer: "a table\\n| x \\uF0C9 |\\n\\\n  | y \\uF020 \\uF0C9 |\\n\\\n'
        '  \\\\uF0C8 is text, \\uF0C8 is not"\nnext: "clean \\u00e9"\n'
    )
    parsed = parse_text(text, "qna.yaml")
    assert parsed.ok and rules_of(parsed) == ["Y015"]
    found = parsed.findings[0]
    assert (found.line, found.column) == (2, 23) and text.splitlines()[1][22:].startswith("\\uF0C9")
    assert found.message == (
        "escaped invisible characters U+F0C9 private use x2 (lines 2, 3), U+F020 private use (line 3), "
        "U+F0C8 private use (line 4): remove the escapes (reviewers cannot see them)"
    )
