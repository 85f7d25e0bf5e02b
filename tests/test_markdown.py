"""taxon.qna.markdown: documents read by a Markdown parser (links whatever their URL holds,
tables and code left out) and the wrapped lines of a knowledge seed's YAML block folded."""

from __future__ import annotations

import shutil

import yaml

from support.leaves import CORPUS, need
from taxon.documents.records import Document
from taxon.documents.sections import document_sections
from taxon.qna.markdown import blocks, fold_lines
from taxon.qna.taxonomy import load_leaf

CHICKADEE = "knowledge/science/animals/birds/black_capped_chickadee"


def test_links_become_their_text_whatever_their_url_holds():
    text = (
        '# Chickadee\n\nIt is a member of the [Paridae](Paridae "wikilink") [family](family_(biology) "wikilink"),\n'
        "also a [dominance\nhierarchy](Dominance_(ethology) 'wikilink') *and* **bold** `code` ![an owl](owl_(bird).png).\n"
        "\n| table | cell |\n| --- | --- |\n| not | prose |\n\n```\ncode block\n```\n\n- a listed item\n- another one\n"
        "\n    indented text from a PDF is prose too.\n\nSetext heading\n---\n\nolive-\nbrown feathers.\n"
    )
    assert [(block.level, block.text) for block in blocks(text)] == [
        (1, "Chickadee"),
        (0, "It is a member of the Paridae family, also a dominance hierarchy and bold code an owl."),
        (0, "a listed item"),
        (0, "another one"),
        (0, "indented text from a PDF is prose too."),
        (2, "Setext heading"),
        (0, "olive-brown feathers."),
    ]


def test_a_real_wikipedia_export_leaves_no_link_syntax_in_any_sentence():
    """The chickadee leaf's contexts are Wikipedia exported with "wikilink" titles, some with
    parentheses in the URL: the regex this replaced left `"wikilink")` in 5 of 46 sentences."""
    data = yaml.safe_load((need(CORPUS) / CHICKADEE / "qna.yaml").read_text(encoding="utf-8"))
    text = "\n\n".join(seed["context"] for seed in data["seed_examples"])
    sentences = [s for section in document_sections(Document("chickadee.md", text, "", "")) for s in section.sentences]
    assert len(sentences) == 46
    assert not [s for s in sentences if "wikilink" in s or "](" in s or "*" in s]
    assert "It is a member of the Paridae family, also known as tits." in sentences


def test_the_wrapped_lines_of_a_paragraph_are_folded_and_structure_is_kept():
    text = (
        "The black-capped chickadee is a small,\nnonmigratory bird of deciduous\nand mixed forests.\n\n"
        "Kept apart  \nby a hard break.\n\n- an item\n  wrapped\n- a second item\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n"
        "> a quote\n> stays\n\n```\nline one\nline two\n```"
    )
    assert fold_lines(text) == (
        "The black-capped chickadee is a small, nonmigratory bird of deciduous and mixed forests.\n\n"
        "Kept apart  \nby a hard break.\n\n- an item wrapped\n- a second item\n\n| a | b |\n| - | - |\n| 1 | 2 |\n\n"
        "> a quote\n> stays\n\n```\nline one\nline two\n```"
    )
    assert fold_lines("one line") == "one line"


def test_knowledge_answers_are_folded_and_skill_answers_stay_as_written(tmp_path):
    leaf_folder = tmp_path / CHICKADEE
    shutil.copytree(need(CORPUS) / CHICKADEE, leaf_folder)
    leaf = load_leaf(leaf_folder / "qna.yaml")
    assert leaf.seeds and not [seed for seed in leaf.seeds if "\n" in seed.answer or "\n" in seed.question]
    assert leaf.seeds[0].answer == (
        "The black-capped chickadee (Poecile atricapillus) is a small, nonmigratory, North American passerine "
        "bird that lives in deciduous and mixed forests."
    )
    assert "\n" in leaf.seeds[0].context, "a context is an excerpt of its document, as written"
    skill = tmp_path / "compositional_skills/writing/poem/qna.yaml"
    skill.parent.mkdir(parents=True)
    poem = "Roses are red,\nviolets are blue"
    seeds = "".join(
        f"  - question: Write poem {n}.\n    answer: |\n      {poem.replace(chr(10), chr(10) + '      ')}\n"
        for n in range(5)
    )
    skill.write_text(f"version: 4\ncreated_by: me\ntask_description: Poems.\nseed_examples:\n{seeds}")
    assert load_leaf(skill).seeds[0].answer == poem
