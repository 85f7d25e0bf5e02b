"""The `taxon` command line: a thin layer over the stage functions.

Each subcommand lives in `taxon.commands.<module>` with `add_arguments(parser)` and
`run(args) -> int`. Only the chosen subcommand's module is imported, so `taxon validate`
never pays for torch or transformers.
"""

from __future__ import annotations

import argparse
import errno
import gc
import importlib
import os
import sys
from typing import NoReturn

from taxon import __version__
from taxon.core.errors import EXIT_FAILED, EXIT_OK, EXIT_USAGE, TaxonError
from taxon.core.github import log_safe
from taxon.core.progress import silence_third_party_bars

# name -> (module under taxon.commands, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "start a new taxonomy repository: example leaves, config, pinned workflows and hook"),
    "validate": ("validate", "check qna.yaml files against the schemas and the policy rules"),
    "rules": ("rules", "print the table of validation rules"),
    "migrate": ("migrate", "upgrade qna.yaml files from versions 1-3 to version 4 in place"),
    "diff": ("diff", "list the leaves added, modified, renamed or deleted against a base ref"),
    "model": ("model", "prepare the packaged default model (a safetensors copy of the GGUF)"),
    "documents": ("documents", "fetch and chunk the knowledge documents of leaves"),
    "generate": ("generate", "generate synthetic training samples from the seed examples"),
    "serve": ("serve", "serve a local model over an OpenAI-compatible API (chat, completions, streaming)"),
    "review": ("review", "render the review page and the pull-request comment for generated samples"),
    "review decide": ("decide", "keep, drop or fix one generated sample: a decision file to commit"),
    "train": ("train", "fine-tune a base model on the generated samples (LoRA or full)"),
    "evaluate": ("evaluate", "score a candidate model against baselines, with a regression gate"),
    "publish": ("publish", "build a verified model bundle from a run"),
    "verify": ("verify", "check a published bundle: checksums, no pickle, manifest"),
    "pipeline": ("pipeline", "run validate, generate, train, evaluate and publish in a run folder"),
    "chat": ("chat", "talk to a model in the terminal"),
    "config": ("config", "show the resolved config of a profile, each value with where it came from"),
    "gitops": ("gitops", "helpers the GitHub workflows call (changed files, comments, commands)"),
}


def _top_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="taxon",
        description="Validate a taxonomy, generate samples, train, evaluate and publish models.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="commands:\n"
        + "\n".join(f"  {name:<15} {help_}" for name, (_, help_) in COMMANDS.items())
        + "\n\nRun 'taxon COMMAND --help' for the options of one command.",
    )
    parser.add_argument("--version", action="version", version=f"taxon {__version__}")
    parser.add_argument("command", nargs="?", help=argparse.SUPPRESS)
    return parser


def entry() -> NoReturn:
    """The console script: `main`, then the process ends without the interpreter's last walk
    over every object still alive (they are frozen out of it: 10 ms of a large tree's
    validate); atexit handlers and the streams' flush still run."""
    code = main()
    gc.freeze()
    raise SystemExit(code)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    for stream in (sys.stdout, sys.stderr):  # a name that is not UTF-8 is printed escaped, never a crash
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    top = _top_parser()
    if not argv or argv[0].startswith("-"):
        top.parse_args(argv)
        top.print_help()
        return EXIT_USAGE
    name, rest = argv[0], argv[1:]
    if rest and f"{name} {rest[0]}" in COMMANDS:  # a command of two words: `taxon review decide`
        name, rest = f"{name} {rest[0]}", rest[1:]
    if name not in COMMANDS:
        top.print_usage(sys.stderr)
        print(f"taxon: error: unknown command '{name}' (see 'taxon --help')", file=sys.stderr)
        return EXIT_USAGE
    module_name, help_ = COMMANDS[name]
    silence_third_party_bars()
    module = importlib.import_module(f"taxon.commands.{module_name}")
    parser = argparse.ArgumentParser(prog=f"taxon {name}", description=help_)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        code: int = module.run(args)
        return code
    except TaxonError as error:
        print(log_safe(f"taxon {name}: error: {error}"), file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print(f"taxon {name}: interrupted; finished work is kept, rerun to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`taxon config show | head`): nothing more to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush finds no pipe
        return EXIT_OK
    except Exception as error:
        if not _out_of_space(error):
            raise
        try:
            sys.stdout.flush()
        except OSError:  # the full device is stdout's: the exit's flush would only fail again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        where = f" writing {error.filename}" if isinstance(error, OSError) and error.filename else ""
        print(
            f"taxon {name}: error: no space left on the device{where}\n  hint: free space where taxon writes "
            "(df -h: the run folder, .taxon-cache, the output) and rerun: finished work is kept, and each "
            "stage resumes (training from its last checkpoint)",
            file=sys.stderr,
        )
        return EXIT_FAILED


def _out_of_space(error: BaseException | None) -> bool:
    """The disk or the quota is full: an OSError saying so, or a library's error made from one
    (safetensors writes in Rust: "I/O error: No space left on device (os error 28)")."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if f"(os error {errno.ENOSPC})" in str(error) or f"(os error {errno.EDQUOT})" in str(error):
            return True
        error = error.__cause__ or error.__context__
    return False
