"""taxon serve MODEL: an OpenAI-compatible chat-completions server over a local model."""

from __future__ import annotations

import argparse

from taxon.commands import _options
from taxon.core.errors import TaxonError

MODEL_HELP = "model folder, hub id or 'packaged:smollm2' (default: generate.teacher)"


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    _options.add_config_arguments(parser)
    parser.add_argument("--threads", type=int, help="torch threads for a local model (default: teacher.threads)")


def config_from_args(args: argparse.Namespace) -> dict:
    threads = {"teacher": {"threads": args.threads}} if args.threads is not None else {}
    return _options.config_from_args(args, threads)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, help="requests generated together (default: teacher.batch_size)")
    parser.add_argument("--quiet", action="store_true", help="don't log requests")
    add_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from taxon.backends.models import resolve_model
    from taxon.serve.server import make_server

    config = config_from_args(args)
    teacher = config.get("teacher", {})
    spec = args.model or config.get("generate", {}).get("teacher")
    if not spec:
        raise TaxonError("no model given", hint="taxon serve MODEL (a folder, a hub id or packaged:smollm2)")
    try:
        server = make_server(
            resolve_model(spec, config),
            args.host,
            args.port,
            model_name=spec,
            batch_size=args.batch_size or teacher.get("batch_size", 8),
            threads=teacher.get("threads", 0),
            max_new_tokens=teacher.get("max_new_tokens", 256),
        )
    except OSError as error:
        raise TaxonError(f"cannot listen on {args.host}:{args.port}: {error}", hint="choose another --port")
    server.log_requests = not args.quiet
    print(f"serving {spec} at {server.url} (OpenAI-compatible; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0
