"""A second Python environment with transformers 4.x, to load our outputs as a user still on
4.x does: built once under the repository's ignored .taxon-cache/venvs/ from
requirements/transformers4.txt (about 10 s from the registry), torch and everything else
borrowed from this venv through a .pth file placed after the 4.x packages on sys.path."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
REQUIREMENTS = REPO / "requirements" / "transformers4.txt"
READY = ".taxon-ready"


def transformers4_python() -> Path:
    """The python of the 4.x environment, built on first use (one builder at a time)."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + sys.executable.encode()).hexdigest()[:12]
    folder = REPO / ".taxon-cache" / "venvs" / f"transformers4-{key}"
    python = folder / "bin" / "python"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / READY).is_file():
            shutil.rmtree(folder, ignore_errors=True)
            subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
            borrowed = sysconfig.get_paths()["purelib"]
            # this venv's pip installs into the new one: no ensurepip, no second pip download
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "--python",
                    str(python),
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "-r",
                    str(REQUIREMENTS),
                ],
                check=True,
            )
            site = subprocess.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            (Path(site) / "zz_taxon_venv.pth").write_text(borrowed + "\n", encoding="utf-8")
            (folder / READY).write_text(REQUIREMENTS.read_text(encoding="utf-8"), encoding="utf-8")
    return python
