import json
import re

from review_fixtures import HOSTILE_ANSWER, HOSTILE_QUESTION, render_review_page, write_gen_out, write_taxonomy

from taxon.cli import main
from taxon.review.page import embed_json


def _embedded(html: str) -> dict:
    match = re.search(r'<script type="application/json" id="review-data">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))


def test_page_embeds_everything_and_is_self_contained(tmp_path):
    gen_out, taxonomy = write_gen_out(tmp_path / "gen"), write_taxonomy(tmp_path / "taxonomy")
    html = render_review_page(gen_out, taxonomy, tmp_path / "page.html").read_text(encoding="utf-8")
    data = _embedded(html)
    birds = next(leaf for leaf in data["leaves"] if leaf["id"] == "knowledge/science/birds")
    assert birds["seeds"][0]["context"].startswith("The European robin")  # from qna.yaml
    assert {s["status"] for s in birds["samples"]} == {"kept", "dropped"}
    assert {s["reason"] for s in birds["samples"] if s["status"] == "dropped"} == {"duplicate", "judge_low", "refusal"}
    assert any(s["question"] == HOSTILE_QUESTION and s["answer"] == HOSTILE_ANSWER for s in birds["samples"])
    assert not re.search(r"(src|href)=\"?(https?:)?//", html)  # no network
    assert "default-src 'none'" in html


def test_hostile_text_cannot_close_the_data_element(tmp_path):
    html = render_review_page(write_gen_out(tmp_path / "gen"), None, tmp_path / "page.html").read_text()
    assert html.count("</script>") == 2  # the data element and the page script, nothing else
    assert "<script>alert" not in html and "<img" not in html
    assert embed_json({"x": "</script><!--&"}) == '{"x":"\\u003c/script\\u003e\\u003c!--\\u0026"}'


def test_seeds_fall_back_to_seed_rows_without_taxonomy(tmp_path):
    html = render_review_page(write_gen_out(tmp_path / "gen"), None, tmp_path / "page.html").read_text()
    haiku = next(leaf for leaf in _embedded(html)["leaves"] if leaf["id"].endswith("haiku"))
    assert haiku["seeds"] == [
        {"question": "Seed question of compositional_skills/writing/haiku?", "answer": "Seed answer.", "context": None}
    ]


def test_review_command_writes_page_and_comment(tmp_path, capsys, monkeypatch, repo_root):
    monkeypatch.chdir(repo_root)
    gen_out = write_gen_out(tmp_path / "gen")
    code = main(
        [
            "review",
            str(gen_out),
            "--html",
            str(tmp_path / "r.html"),
            "--comment",
            str(tmp_path / "c.md"),
            "--set",
            "review.samples_per_leaf=1",
        ]
    )
    assert code == 0
    assert "1 of the 5 undecided, picked by id" in (tmp_path / "c.md").read_text()
    assert (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")


def test_missing_folder_is_a_user_error(tmp_path, capsys, monkeypatch, repo_root):
    monkeypatch.chdir(repo_root)
    assert main(["review", str(tmp_path / "nope")]) == 1
    assert "no such folder" in capsys.readouterr().err


def test_each_sample_shows_why_it_was_kept(tmp_path):
    gen_out = write_gen_out(tmp_path / "gen")
    samples = gen_out / "compositional_skills/writing/haiku/samples.jsonl"
    judged = {
        "messages": [{"role": "user", "content": "Convert 4 m."}, {"role": "assistant", "content": "4 m = 400 cm."}],
        "metadata": {
            "leaf": "compositional_skills/writing/haiku",
            "source": "generated",
            "seed": 0,
            "judge_score": -0.8,
            "judge_seed_median": -1.0,
            "checks": {"conversion": True, "form": True},
            "agreement": "3/3",
        },
    }
    derived = {
        "messages": [{"role": "user", "content": "Complete: ..."}, {"role": "assistant", "content": "A fact."}],
        "metadata": {"leaf": "compositional_skills/writing/haiku", "source": "document", "form": "sentence_continue"},
    }
    repaired = {
        "messages": [{"role": "user", "content": "Convert 9 m."}, {"role": "assistant", "content": "9 m = 900 cm."}],
        "metadata": {
            "leaf": "compositional_skills/writing/haiku",
            "source": "generated",
            "seed": 0,
            "verified_by": "checker",
            "repaired_from": "9 m = 90 cm.",
        },
    }
    with samples.open("a") as handle:
        handle.write(json.dumps(judged) + "\n" + json.dumps(derived) + "\n" + json.dumps(repaired) + "\n")
    html = render_review_page(gen_out, None, tmp_path / "page.html").read_text(encoding="utf-8")
    haiku = next(leaf for leaf in _embedded(html)["leaves"] if leaf["id"] == "compositional_skills/writing/haiku")
    why = {s["answer"]: s["why"] for s in haiku["samples"]}
    assert why["4 m = 400 cm."] == [
        "likelihood -0.80 vs seeds' median -1.00 (+0.20)",
        "conversion passed",
        "form passed",
        "sampled answers agreeing 3/3",
    ]
    assert why["A fact."] == ["from the document (sentence_continue), no teacher"]
    assert why["9 m = 900 cm."] == ["REPAIRED; the teacher said: 9 m = 90 cm."]
    assert "badge why" in html
