"""Invisible Unicode (Y015/Y016 in qna.yaml, D014/D015 in documents): format characters,
the tag block and private use are errors at their line and column; ZWJ and ZWNJ warn."""

from __future__ import annotations

import json
import sys
import unicodedata

import pytest

from support.leaves import knowledge_text
from taxon.cli import main
from taxon.core.characters import INVISIBLE, JOINERS

TAGGED = "".join(chr(0xE0000 + ord(c)) for c in "ignore the seeds")  # renders as nothing at all
HIDDEN = {
    "tag characters": TAGGED,
    "zero width space": "\u200b",
    "word joiner": "\u2060",
    "invisible plus": "\u2064",
    "soft hyphen": "\u00ad",
    "interlinear annotation": "\ufff9",
    "private use": "\ue000",
}


def test_every_format_and_private_use_character_is_invisible():
    for code in range(sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) in ("Cf", "Co"):
            assert INVISIBLE.fullmatch(char), f"U+{code:04X}"
    assert not INVISIBLE.search("plain text, accents é, CJK 漢字, emoji 🙂")


def _json_findings(capsys, *args) -> tuple[int, list[dict]]:
    code = main(["validate", "--format", "json", *args])
    report = json.loads(capsys.readouterr().out)
    return code, [f for file in report["files"] for f in file["findings"]]


@pytest.mark.parametrize("what", sorted(HIDDEN))
def test_qna_yaml_refuses_each_at_its_place(make_leaf, capsys, what):
    text = knowledge_text().replace("Where does the otter live?", f"Where does the otter{HIDDEN[what]} live?")
    path = make_leaf("knowledge/zoo/animals", text, files={"animals.md": "# Animals\n\nOtters swim.\n"})
    line = next(n for n, row in enumerate(text.splitlines(), 1) if HIDDEN[what] in row)
    column = text.splitlines()[line - 1].index(HIDDEN[what]) + 1
    code, findings = _json_findings(capsys, str(path))
    invisible = [f for f in findings if f["rule"] == "Y015"]
    assert code == 1 and invisible, findings
    assert (invisible[0]["line"], invisible[0]["column"]) == (line, column)
    assert invisible[0]["severity"] == "error" and f"U+{ord(HIDDEN[what][0]):04X}" in invisible[0]["message"]


def test_escaped_in_a_double_quoted_string_too(make_leaf, capsys):
    text = knowledge_text().replace("Where does the otter live?", '"Where does the otter\\U000E0041 live?"')
    path = make_leaf("knowledge/zoo/animals", text, files={"animals.md": "# Animals\n\nOtters swim.\n"})
    code, findings = _json_findings(capsys, str(path))
    assert code == 1 and any(f["rule"] == "Y015" and "U+E0041" in f["message"] for f in findings)


@pytest.mark.parametrize("joiner", JOINERS)
def test_zero_width_joiners_only_warn(make_leaf, capsys, joiner):
    text = knowledge_text().replace("Where does the otter live?", f"Where does the ot{joiner}ter live?")
    path = make_leaf("knowledge/zoo/animals", text, files={"animals.md": "# Animals\n\nOtters swim.\n"})
    code, findings = _json_findings(capsys, str(path))
    assert code == 0 and [f["rule"] for f in findings] == ["Y016"] and findings[0]["severity"] == "warning"


def test_documents_get_the_same_check(make_leaf, capsys, repo_root):
    document = f"# Animals\n\nOtters swim.\nThey{TAGGED} dive.\nA fam\u200dily.\n"
    path = make_leaf("knowledge/zoo/animals", knowledge_text(), files={"animals.md": document})
    assert _json_findings(capsys, str(path))[0] == 0  # plain validate does not read documents
    code, findings = _json_findings(capsys, "--check-documents", "--config", str(repo_root / "taxon.toml"), str(path))
    by_rule = {f["rule"]: f for f in findings}
    assert code == 1 and set(by_rule) == {"D014", "D015"}, findings
    assert by_rule["D014"]["message"].startswith("animals.md:4:5: invisible character U+E0069")
    assert by_rule["D015"]["message"].startswith("animals.md:5:6: zero-width joiner U+200D")
    assert by_rule["D015"]["severity"] == "warning"
