"""`taxon generate` end to end through real HTTP: the openai backend against a scripted
chat-completions server, in-process and as a process killed with SIGKILL mid-run."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from generate_helpers import BIRD_QUESTIONS, write_skill

from support.scripted_openai import ScriptedServer
from taxon.cli import main

REPO = Path(__file__).resolve().parents[2]


def cli_args(tmp_path: Path, base_url: str, *extra: str) -> list[str]:
    return [
        "generate",
        str(tmp_path / "taxonomy"),
        "--out",
        str(tmp_path / "out"),
        "--config",
        str(REPO / "taxon.toml"),
        "--backend",
        "openai",
        "--teacher",
        "scripted",
        "--quiet",
        "--set",
        f'teacher.base_url="{base_url}"',
        "--set",
        "teacher.retries=1",
        "--set",
        "generate.min_kept_per_leaf=1",
        "--set",
        "teacher.backoff_s=0.01",
        "--set",
        f'generate.cache_dir="{tmp_path / "cache"}"',
        "--set",
        "generate.questions_per_seed=3",
        "--set",
        "dataset.eval_share=0.0",
        *extra,
    ]


@pytest.mark.parametrize("loglikelihood", [True, False])
def test_generate_over_http(tmp_path, capsys, loglikelihood):
    write_skill(tmp_path / "taxonomy", "birds", BIRD_QUESTIONS + ["What do owls eat? [wrong]"])
    with ScriptedServer(loglikelihood=loglikelihood) as server:
        assert main(cli_args(tmp_path, server.base_url)) == 0
        served = server.chat_requests
        assert main(cli_args(tmp_path, server.base_url)) == 0
        assert server.chat_requests == served  # every leaf finished: the endpoint is not even probed
    out = capsys.readouterr().out
    assert "compositional_skills/birds" in out and "judge_low 3" in out and "0 teacher requests" in out
    stats = json.loads((tmp_path / "out/compositional_skills/birds/stats.json").read_text())
    assert stats["teacher"] == "openai:scripted" and stats["kept"] == 9
    rows = [json.loads(line) for line in (tmp_path / "out/compositional_skills/birds/samples.jsonl").open()]
    assert {row["metadata"]["judge"] for row in rows} == {"loglikelihood" if loglikelihood else "generated"}


def test_empty_leaf_and_down_endpoint_exit_1(tmp_path, capsys):
    write_skill(tmp_path / "taxonomy", "birds", BIRD_QUESTIONS)
    write_skill(tmp_path / "taxonomy", "mute", ["Say it [refuse]"], task="Say it")
    with ScriptedServer() as server:
        assert main(cli_args(tmp_path, server.base_url)) == 1
        base_url = server.base_url
    captured = capsys.readouterr()
    assert "compositional_skills/mute" in captured.err and "refusal 1" in captured.err
    assert "compositional_skills/birds" in captured.out  # the table shows every leaf
    assert main(cli_args(tmp_path, base_url)) == 1  # the server is gone
    assert "teacher endpoint" in capsys.readouterr().err


def test_sigkilled_run_resumes_to_the_same_files(tmp_path):
    write_skill(tmp_path / "taxonomy", "birds", BIRD_QUESTIONS)
    write_skill(tmp_path / "taxonomy", "trees", ["Which trees lose leaves?", "How tall are oaks?"], task="Trees")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "taxon"]
    settings = [
        "--set",
        "generate.batch_size=2",
        "--set",
        "generate.leaves_per_batch=1",
        "--set",
        "teacher.concurrency=1",
    ]
    with ScriptedServer(latency_s=0.02) as server:
        whole = cli_args(tmp_path / "whole", server.base_url, *settings)
        whole[1] = str(tmp_path / "taxonomy")
        assert main(whole) == 0

        run = cli_args(tmp_path, server.base_url, *settings)
        start = server.chat_requests
        process = subprocess.Popen(command + run, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while server.chat_requests < start + 12 and process.poll() is None:
            time.sleep(0.005)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert process.returncode == -signal.SIGKILL
        subprocess.run(command + run, env=env, check=True, capture_output=True)

    def files(out: Path) -> dict:
        return {
            p.relative_to(out).as_posix(): p.read_bytes()
            for p in out.rglob("*")
            if p.is_file() and p.name != "summary.json"
        }

    assert files(tmp_path / "out") == files(tmp_path / "whole" / "out")


def test_unloadable_leaf_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "taxonomy/compositional_skills/bad/qna.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("seed_examples: [unclosed")
    assert main(cli_args(tmp_path, "http://127.0.0.1:9/v1")) == 1
    err = capsys.readouterr().err
    assert "compositional_skills/bad/qna.yaml" in err and "Traceback" not in err
