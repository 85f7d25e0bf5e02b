"""taxon chat MODEL: talk to a model in the terminal, or answer one --prompt and exit. From
any folder: without a taxon.toml here or above, the built-in defaults apply."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from taxon.commands._options import MODEL_HELP, add_model_config_arguments, model_config_from_args
from taxon.core.errors import EXIT_FAILED, EXIT_OK, TaxonError
from taxon.core.settings import Config

if TYPE_CHECKING:
    from taxon.backends.base import Completion, Teacher

Answer = Callable[[list[dict[str, str]]], "Completion"]

HELP = "type a message; /reset forgets the conversation, /exit (or Ctrl-D) leaves"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument("--prompt", help="answer this one message, print the answer and exit")
    parser.add_argument("--system", help="a system message to start the conversation with")
    parser.add_argument("--base-url", help="talk to an OpenAI-compatible server instead (e.g. taxon serve's URL)")
    parser.add_argument(
        "--backend",
        choices=("transformers", "vllm"),
        default="transformers",
        help="in-process backend when no --base-url is given (default: %(default)s)",
    )
    parser.add_argument("--max-tokens", type=int, help="longest answer in tokens (default: teacher.max_new_tokens)")
    parser.add_argument("--temperature", type=float, default=0.7, help="sampling temperature, 0 for greedy")
    parser.add_argument("--seed", type=int, help="sampling seed (default: generate.seed)")
    add_model_config_arguments(parser)


def _teacher(args: argparse.Namespace, config: Config) -> Teacher:
    from taxon.backends import make_teacher

    spec = args.model or config.generate.teacher
    if not spec:
        raise TaxonError("no model given", hint="taxon chat MODEL (a folder, a hub id or packaged:smollm2)")
    chosen: dict[str, dict[str, str]] = {
        "generate": {"backend": "openai" if args.base_url else args.backend, "teacher": spec}
    }
    if args.base_url:
        chosen["teacher"] = {"base_url": args.base_url}
    return make_teacher(config.with_overrides(chosen))


def run(args: argparse.Namespace) -> int:
    from taxon.backends.base import ChatRequest

    config = model_config_from_args(args)
    teacher = _teacher(args, config)
    max_tokens: int = args.max_tokens or config.teacher.max_new_tokens
    seed: int = args.seed if args.seed is not None else config.generate.seed
    start = [{"role": "system", "content": args.system}] if args.system else []

    def answer(history: list[dict[str, str]]) -> Completion:
        """The answer to the conversation, printed as it streams in (the part a backend that
        can't stream didn't hand over comes when it is done); the line is ended by the caller."""
        shown: list[str] = []

        def show(piece: str) -> None:
            shown.append(piece)
            print(piece, end="", flush=True)

        request = ChatRequest(tuple(history), max_tokens=max_tokens, temperature=args.temperature, seed=seed)
        completion = teacher.chat([request], on_text=lambda _, piece: show(piece))[0]
        streamed = "".join(shown)
        if completion.finish_reason != "error" and completion.text.startswith(streamed):
            print(completion.text[len(streamed) :], end="", flush=True)
        return completion

    if args.prompt is not None:
        completion = answer([*start, {"role": "user", "content": args.prompt}])
        print()
        if completion.finish_reason == "error":
            print(f"taxon chat: the model failed: {completion.error}", file=sys.stderr)
            return EXIT_FAILED
        return EXIT_OK
    return _repl(answer, start)


def _repl(answer: Answer, start: list[dict[str, str]]) -> int:
    print(HELP)
    history = list(start)
    while True:
        try:
            line = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return EXIT_OK
        if line in ("/exit", "/quit"):
            return EXIT_OK
        if line == "/reset":
            history = list(start)
            print("(conversation reset)")
            continue
        if not line:
            continue
        history.append({"role": "user", "content": line})
        print("model> ", end="", flush=True)
        completion = answer(history)
        if completion.finish_reason == "error":
            history.pop()
            print(f"(the model failed: {completion.error})")
            continue
        history.append({"role": "assistant", "content": completion.text})
        print(" [cut off]" if completion.finish_reason == "length" else "")
