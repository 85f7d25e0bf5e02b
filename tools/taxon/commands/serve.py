"""taxon serve MODEL: an OpenAI-compatible server over a local model, capped by [serve]."""

from __future__ import annotations

import argparse
import os

from taxon.commands._options import MODEL_HELP, add_model_config_arguments, model_config_from_args
from taxon.core.errors import TaxonError, UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", nargs="?", help=MODEL_HELP)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: %(default)s)")
    parser.add_argument("--port", type=int, default=8000, help="port (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, help="requests generated together (default: teacher.batch_size)")
    parser.add_argument("--quiet", action="store_true", help="don't log requests")
    add_model_config_arguments(parser)


def limits_from_config(config: dict):
    """taxon serve's caps from [serve], and the API key from the variable it names (when set)."""
    from taxon.serve.server import Limits

    serve = config.get("serve", {})
    settings = {
        key: serve[key]
        for key in ("max_tokens", "max_prompt_tokens", "max_n", "max_connections", "timeout_s")
        if key in serve
    }
    for key, value in settings.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise UsageError(f"serve.{key} must be a positive number, not {value!r}", where=config.get("config_path"))
    key_env = serve.get("api_key_env") or ""
    return Limits(**settings, api_key=os.environ.get(key_env) or None if key_env else None)


def run(args: argparse.Namespace) -> int:
    from taxon.backends.models import resolve_model
    from taxon.serve.server import make_server

    config = model_config_from_args(args)
    limits = limits_from_config(config)
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
            limits=limits,
            dtype=teacher.get("dtype", "auto"),
        )
    except OSError as error:
        raise TaxonError(f"cannot listen on {args.host}:{args.port}: {error}", hint="choose another --port")
    server.log_requests = not args.quiet
    keyed = f", key from ${config['serve']['api_key_env']}" if limits.api_key else ""
    print(f"serving {spec} at {server.url} (OpenAI-compatible{keyed}; Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("stopped")
    finally:
        server.server_close()
    return 0
