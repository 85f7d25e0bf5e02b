"""llama.cpp's own Hugging Face -> GGUF converter (convert_hf_to_gguf.py, its conversion/ package
and the gguf-py it was written against), taken from the llama-cpp-python source distribution on
PyPI (the version `make llama-cpp` builds) and kept under the repository's ignored
.taxon-cache/ so a machine downloads it once (76 MB). Runs with this venv's torch and
transformers and the sentencepiece it imports."""

from __future__ import annotations

import fcntl
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LLAMA_CPP_PYTHON = "llama-cpp-python==0.3.36"  # as the Makefile's LLAMA_CPP
PARTS = ("convert_hf_to_gguf.py", "conversion", "gguf-py")


def llama_cpp_converter() -> Path:
    """The folder holding convert_hf_to_gguf.py, fetched on first use (one fetcher at a time)."""
    folder = REPO / ".taxon-cache" / f"llama.cpp-{LLAMA_CPP_PYTHON.split('==')[1]}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / PARTS[0]).is_file():
            with tempfile.TemporaryDirectory(dir=folder.parent) as scratch:
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "download",
                        "-q",
                        "--disable-pip-version-check",
                        "--no-deps",
                        "--no-binary",
                        ":all:",
                        "-d",
                        scratch,
                        LLAMA_CPP_PYTHON,
                    ],
                    check=True,
                )
                archive = next(Path(scratch).glob("*.tar.gz"))
                staging = Path(scratch) / "llama.cpp"
                with tarfile.open(archive) as sdist:
                    prefix = f"{sdist.getnames()[0].split('/')[0]}/vendor/llama.cpp/"
                    members = [
                        m
                        for m in sdist.getmembers()
                        if m.name.startswith(prefix) and m.name[len(prefix) :].split("/")[0] in PARTS
                    ]
                    for member in members:
                        member.name = member.name[len(prefix) :]
                    sdist.extractall(staging, members=members, filter="data")
                shutil.rmtree(folder, ignore_errors=True)
                staging.rename(folder)
    return folder


def convert(model_dir: Path, out: Path) -> subprocess.CompletedProcess:
    """convert_hf_to_gguf.py on a model folder, in the model's own 16-bit type."""
    converter = llama_cpp_converter()
    environment = {"PYTHONPATH": str(converter / "gguf-py"), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, str(converter / PARTS[0]), str(model_dir), "--outfile", str(out), "--outtype", "auto"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )
