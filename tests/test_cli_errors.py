"""The command line's own handling: what reaches the user when a command fails outside taxon's
errors (a full disk), as a message with what to do, never a traceback."""

import subprocess
import sys
from pathlib import Path

import pytest

from taxon.cli import _out_of_space

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not Path("/dev/full").is_char_device(), reason="no /dev/full device on this system")
def test_a_full_device_is_a_message_not_a_traceback():
    """Writing to a device with no space left (here stdout on /dev/full, whose every write fails
    with ENOSPC): the user is told what happened and what to do, with the exit code of a failure."""
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "taxon", "rules"], cwd=REPO, stdout=full, stderr=subprocess.PIPE, timeout=60
        )
    stderr = done.stderr.decode()
    assert done.returncode == 1 and "Traceback" not in stderr and "Exception ignored" not in stderr
    assert "taxon rules: error: no space left on the device" in stderr and "rerun" in stderr


def test_a_full_disk_is_recognised_in_a_librarys_error():
    """safetensors writes in Rust and raises its own error for a full disk (the message as a
    checkpoint write on a full disk gave it); a different I/O failure is not taken for one."""
    safetensors = pytest.importorskip("safetensors")
    full = safetensors.SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")
    assert _out_of_space(full) and _out_of_space(RuntimeError("saving failed")) is False
    assert _out_of_space(OSError(28, "No space left on device")) and not _out_of_space(OSError(13, "denied"))
    wrapped = RuntimeError("checkpoint")
    wrapped.__cause__ = full
    assert _out_of_space(wrapped)
