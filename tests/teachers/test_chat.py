"""`taxon chat`: one answer with --prompt, and the REPL's commands."""

import io

from taxon.cli import main


def chat(model_dir, repo_root, *flags):
    return main(["chat", str(model_dir), "--config", str(repo_root / "taxon.toml"), "--temperature", "0", *flags])


def test_prompt_prints_one_answer(sharp_model_dir, repo_root, capsys):
    assert chat(sharp_model_dir, repo_root, "--prompt", "bird", "--max-tokens", "5") == 0
    first = capsys.readouterr().out
    assert chat(sharp_model_dir, repo_root, "--prompt", "bird", "--max-tokens", "5") == 0
    assert capsys.readouterr().out == first and first.strip()


def test_prompt_through_a_server(served, repo_root, capsys):
    assert (
        main(
            [
                "chat",
                "tiny",
                "--base-url",
                served.url,
                "--config",
                str(repo_root / "taxon.toml"),
                "--prompt",
                "bird",
                "--max-tokens",
                "5",
                "--temperature",
                "0",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.strip()


def test_repl_reset_and_exit(sharp_model_dir, repo_root, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("bird\n/reset\n\n1 2 3\n/exit\nnever read\n"))
    assert chat(sharp_model_dir, repo_root, "--max-tokens", "4") == 0
    out = capsys.readouterr().out
    assert out.count("model> ") == 2 and "(conversation reset)" in out


def test_missing_model_folder_is_a_clear_error(tmp_path, repo_root, capsys):
    assert chat(tmp_path / "nope", repo_root, "--prompt", "x") == 2
    assert "neither a folder here nor a Hugging Face id" in capsys.readouterr().err


def test_a_served_answer_streams_into_the_terminal(served, sharp_model_dir, repo_root, capsys):
    """Through --base-url the answer arrives as server-sent events, each piece printed as it
    comes; the text is the in-process answer's."""
    from taxon.backends.base import ChatRequest
    from taxon.backends.openai import OpenAITeacher

    pieces = []
    request = ChatRequest(({"role": "user", "content": "bird"},), max_tokens=6, temperature=0)
    completion = OpenAITeacher("tiny", base_url=served.url).chat(
        [request], on_text=lambda _, piece: pieces.append(piece)
    )[0]
    assert pieces and "".join(pieces) == completion.text and completion.tokens > 0
    assert chat(sharp_model_dir, repo_root, "--prompt", "bird", "--max-tokens", "6") == 0
    assert capsys.readouterr().out == completion.text + "\n"
