"""taxon serve MODEL: an OpenAI-compatible server over a local model, capped by [serve].
From any folder: without a taxon.toml here or above, the built-in defaults apply."""

from __future__ import annotations

import argparse
import os

from taxon.commands._options import MODEL_HELP, add_model_config_arguments, model_config_from_args
from taxon.core.errors import TaxonError

DTYPES = ("auto", "bfloat16", "float16", "float32")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, help="requests generated together (default: teacher.batch_size)")
    parser.add_argument(
        "--dtype",
        choices=DTYPES,
        help="the precision the model computes in (default: teacher.dtype); float32 gives greedy answers that "
        "do not depend on the other requests in the batch, bfloat16 may not",
    )
    parser.add_argument("--quiet", action="store_true", help="don't log requests")
    add_model_config_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from taxon.backends.models import resolve_model
    from taxon.serve.server import make_server

    config = model_config_from_args(args)
    serve = config.serve  # every cap checked positive at load
    teacher = config.teacher
    spec = args.model or config.generate.teacher
    if not spec:
        raise TaxonError("no model given", hint="taxon serve MODEL (a folder, a hub id or packaged:smollm2)")
    api_key = os.environ.get(serve.api_key_env) if serve.api_key_env else None
    try:
        server = make_server(
            resolve_model(spec, config.models),
            args.host,
            args.port,
            settings=serve,
            model_name=spec,
            batch_size=args.batch_size or teacher.batch_size,
            threads=teacher.threads,
            max_new_tokens=teacher.max_new_tokens,
            api_key=api_key or None,
            dtype=args.dtype or teacher.dtype,
        )
    except OSError as error:
        raise TaxonError(f"cannot listen on {args.host}:{args.port}: {error}", hint="choose another --port")
    server.log_requests = not args.quiet
    keyed = f", key from ${serve.api_key_env}" if api_key else ""
    print(f"serving {spec} at {server.url} (OpenAI-compatible{keyed}; Ctrl-C stops)", flush=True)
    if server.dtype != "float32":
        print(
            f"computing in {server.dtype}: a greedy answer may change with the other requests in its batch "
            "(--dtype float32 for answers that do not)",
            flush=True,
        )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0
