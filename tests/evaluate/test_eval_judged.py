"""The opt-in general evaluations of the gpu profile, run here on tiny models: a judge-scored
chat set (the judge a real OpenAI-compatible HTTP endpoint, reached by taxon's own client, that
rates by the right answers it knows) and lm-evaluation-harness tasks from its registry."""

import json
import threading
from dataclasses import replace
from http.server import ThreadingHTTPServer

import pytest

from support.json_http import JSONHandler
from support.runs import make_config
from support.tiny_model import build_tiny_model
from support.trained_models import PROBE, general_rows, train_tiny, write_general_sets
from taxon.core.errors import UsageError
from taxon.evaluate import evaluate
from taxon.evaluate.harness import run_benchmarks
from taxon.evaluate.judged import JUDGE_INSTRUCTIONS, parse_rating

UNRATED = "What do bees make?"  # the judge answers this one without a rating


class KnowingJudge:
    """Rates 9 an answer holding the right option of the probe question it grades, 2 otherwise."""

    def __init__(self):
        self.requests = []
        right = {question: choices[gold] for question, choices, gold in PROBE}
        judge = self

        class Handler(JSONHandler):
            def do_GET(self):
                self._reply(200, {"object": "list", "data": [{"id": "knowing-judge"}]})

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if self.path != "/v1/chat/completions":
                    return self._reply(404, {"error": "not found"})
                messages = body["messages"]
                judge.requests.append(messages)
                text = "Fine."
                if messages[0]["content"] == JUDGE_INSTRUCTIONS:
                    graded = messages[1]["content"]
                    question = graded.split("[User's message]\n", 1)[1].split("\n\n[Assistant's answer]", 1)[0]
                    answer = graded.split("[Assistant's answer]\n", 1)[1]
                    rating = 9 if right[question].lower() in answer.lower() else 2
                    text = "No rating here." if question == UNRATED else f"It says so.\nRating: [[{rating}]]"
                choice = {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                self._reply(200, {"choices": [choice], "usage": {"completion_tokens": 3, "prompt_tokens": 9}})

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()
        self.base_url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"


@pytest.fixture(scope="module")
def models(eval_inputs, tmp_path_factory):
    root = tmp_path_factory.mktemp("judged")
    probe, text = write_general_sets(root / "general")
    base = train_tiny(build_tiny_model(root / "random", hidden=64), root / "base", general_rows(), 80)
    forgot = train_tiny(base, root / "forgot", general_rows(wrong=True), 80)
    chat = root / "chat.jsonl"
    chat.write_text(
        "".join(
            json.dumps({"id": f"c{i}", "category": "general", "prompt": q}) + "\n" for i, (q, _, _) in enumerate(PROBE)
        )
    )
    config = make_config(probe_file=str(probe), text_file=str(text), max_new_tokens=12, max_per_leaf=2)
    return base, forgot, chat, config, root


def test_the_judged_chat_set_rates_each_models_answers(eval_inputs, models):
    leaves, dataset = eval_inputs
    base, forgot, chat, config, root = models
    judge = KnowingJudge()
    judged = {"judge_model": "knowing-judge", "judge_base_url": judge.base_url}
    config = config.with_overrides({"evaluate": {**judged, "chat_file": str(chat), "chat_max_new_tokens": 12}})
    report = evaluate(str(forgot), [str(base)], dataset, leaves, root / "eval", config, quiet=True)
    entry = report.data["chat"]
    assert entry["judge"] == "knowing-judge" and entry["n"] == len(PROBE)
    assert entry["unrated"] == {str(forgot): 1, str(base): 1}  # never counted as a score
    assert entry["scores"][str(base)] >= 7 and entry["scores"][str(forgot)] <= 4
    assert entry["comparisons"][str(base)]["high"] < 0  # the candidate that forgot is rated lower
    item = entry["items"][0]
    assert item["ratings"][str(base)] in (2.0, 9.0) and "Rating: [[" in item["reasons"][str(base)]
    assert "Judged chat set" in (root / "eval" / "report.md").read_text()
    asked = len(judge.requests)
    again = evaluate(str(forgot), [str(base)], dataset, leaves, root / "eval", config, quiet=True)
    assert len(judge.requests) == asked and again.data["chat"] == entry  # verdicts cached like answers


def test_a_rating_is_read_only_in_its_form_and_range():
    assert parse_rating("good\nRating: [[8]]") == 8.0
    assert parse_rating("[[3]] then [[7.5]]") == 7.5
    assert parse_rating("Rating: 8") is None and parse_rating("[[11]]") is None and parse_rating("") is None


def test_benchmarks_are_lm_eval_registry_tasks_on_both_models(models, tmp_path):
    from lm_eval.tasks import TaskManager

    base, forgot, chat, config, root = models
    assert {"mmlu", "arc_easy", "hellaswag"} <= set(TaskManager().all_tasks)  # the registry lm-eval installs
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    rows = [{"question": q, "choices": c, "gold": g} for q, c, g in PROBE]
    (tasks / "probe.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (tasks / "my_probe.yaml").write_text(
        "task: my_probe\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        f"    test: {tasks / 'probe.jsonl'}\ntest_split: test\noutput_type: multiple_choice\n"
        "doc_to_text: 'Question: {{question}}\\nAnswer:'\ndoc_to_choice: choices\ndoc_to_target: gold\n"
        "metric_list:\n  - metric: acc\nmetadata:\n  version: 1.0\n"
    )
    settings = replace(config.evaluate, benchmarks=("my_probe",), benchmark_include_path=str(tasks))
    result = run_benchmarks({"base": str(base), "forgot": str(forgot)}, settings, "float32")
    assert result["tasks"] == ["my_probe"] and result["limit"] is None
    assert result["results"]["base"]["my_probe"]["acc"] > result["results"]["forgot"]["my_probe"]["acc"]
    with pytest.raises(UsageError, match="arc_easyy"):
        run_benchmarks({"base": str(base)}, replace(settings, benchmarks=("arc_easyy",)), "float32")


def test_an_unreachable_judge_is_a_clear_error_that_keeps_the_answers(eval_inputs, models, capsys, repo_root):
    from taxon.cli import main

    _, dataset = eval_inputs
    base, forgot, chat, config, root = models
    out = root / "eval-down"
    code = main(
        ["evaluate", "--candidate", str(forgot), "--baseline", str(base), "--data", str(dataset), "--out", str(out)]
        + ["--config", str(repo_root / "taxon.toml"), "--quiet", "--set", f"evaluate.chat_file='{chat}'"]
        + ["--set", "evaluate.judge_model='gone'", "--set", "evaluate.judge_base_url='http://127.0.0.1:9/v1'"]
        + ["--set", "evaluate.max_per_leaf=2", "--set", "evaluate.chat_max_new_tokens=8", "--set", "teacher.retries=0"]
    )
    error = capsys.readouterr().err
    assert code == 1 and "the judge gone could not be asked" in error and "Traceback" not in error
    assert "evaluate.judge_base_url" in error and list((out / "answers").glob("*.json"))


def test_taxon_serve_can_be_the_judge(eval_inputs, models):
    """A local `taxon serve` (the tiny base as the judge model) answers every grading request;
    a judge that never writes a rating leaves every answer unrated, with no score made up."""
    from support.served import serving
    from taxon.backends.transformers import TransformersTeacher

    leaves, dataset = eval_inputs
    base, forgot, chat, config, root = models
    with serving(TransformersTeacher(str(base), dtype="float32"), name="tiny-judge") as server:
        url = f"http://127.0.0.1:{server.server_address[1]}/v1"
        judged = {"judge_model": "tiny-judge", "judge_base_url": url, "chat_file": str(chat), "chat_max_new_tokens": 8}
        config = config.with_overrides({"evaluate": judged})
        report = evaluate(
            str(forgot),
            [str(base)],
            dataset,
            leaves,
            root / "eval-served",
            config,
            quiet=True,
        )
    entry = report.data["chat"]
    rated = sum(rating is not None for item in entry["items"] for rating in item["ratings"].values())
    assert sum(entry["unrated"].values()) == 2 * len(PROBE) - rated
    assert all(item["reasons"][str(base)] is not None for item in entry["items"])
