"""requirements/gpu.txt, the self-hosted GPU runner's environment (train.yml installs it), still
resolves: taxon[gpu] of pyproject.toml, resolved by uv for Python 3.12 on Linux x86_64 with the
lock as constraints, gives exactly the lock. No GPU needed, only PyPI's metadata (skipped without
network to PyPI). A dependency change in pyproject.toml that the lock does not carry fails here:
`make gpu-lock` writes it again."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements" / "gpu.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")
PLATFORM = ["--python-version", "3.12", "--python-platform", "x86_64-manylinux_2_28"]


def pins(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        match = PIN.match(line.strip())
        if match:
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(2)
    return found


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_the_lock_pins_a_cuda_torch_a_vllm_and_a_transformers():
    locked = pins(LOCK.read_text(encoding="utf-8"))
    assert {"torch", "vllm", "transformers", "peft", "lm-eval"} <= set(locked)
    assert any(name.startswith("nvidia-") for name in locked), "PyPI's Linux torch is the CUDA build"
    assert _version(locked["transformers"]) >= (4, 46)
    assert "taxon" not in locked  # the runner installs the checkout itself (-e .)


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


def test_the_lock_still_resolves_from_pyproject():
    uv = Path(sys.executable).parent / "uv"
    if not uv.exists():
        pytest.skip("uv is not installed in this environment (pip install -e '.[dev]')")
    if not _pypi_reachable():
        pytest.skip("no network to PyPI: the resolve needs its metadata")
    result = subprocess.run(
        [str(uv), "pip", "compile", "pyproject.toml", "--extra", "gpu", *PLATFORM, "-c", str(LOCK)]
        + ["--no-header", "--no-annotate", "-q"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"},
        check=False,
    )
    assert result.returncode == 0, f"taxon[gpu] no longer resolves with the lock (make gpu-lock):\n{result.stderr}"
    resolved, locked = pins(result.stdout), pins(LOCK.read_text(encoding="utf-8"))
    assert resolved == locked, (
        "the lock and pyproject.toml disagree (make gpu-lock): "
        f"only resolved {sorted(set(resolved.items()) - set(locked.items()))}, "
        f"only locked {sorted(set(locked.items()) - set(resolved.items()))}"
    )
