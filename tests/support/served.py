"""`taxon serve` in a thread on a free port, for the tests that talk to it over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from taxon.core.settings import ServeSettings
from taxon.serve.server import ModelServer


@contextmanager
def serving(
    model: Any, name: str = "tiny", window_s: float = 0.01, api_key: str | None = None, **caps: Any
) -> Iterator[ModelServer]:
    """A server over an already loaded model (a TransformersTeacher), [serve]'s defaults but
    for `caps`; stopped on leaving."""
    server = ModelServer(
        ("127.0.0.1", 0),
        model,
        name,
        8,
        replace(ServeSettings(), **caps),
        api_key=api_key,
        batch_window_s=window_s,
        dtype=str(model.model.dtype).removeprefix("torch."),
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
