import os
import subprocess
import sys

# A small model's training steps, rows varying as packed rows do: minor page faults once the
# process is warm show whether freed memory is kept for the next step or handed back to the
# system and faulted in anew.
SCRIPT = """
import resource, sys, torch
from taxon.backends.allocator import keep_freed_memory
if sys.argv[1] == "kept":
    assert keep_freed_memory()
torch.manual_seed(0)
model = torch.nn.Sequential(torch.nn.Linear(512, 3072), torch.nn.GELU(), torch.nn.Linear(3072, 512))
def step(rows):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    model(torch.randn(rows, 512)).square().sum().backward()
    model.zero_grad(set_to_none=True)
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(sum([step(rows) for rows in [2048, 1500, 1900, 1700] * 4][4:]))
"""


# glibc's own thresholds (128 KiB), fixed: left dynamic, they rise with whatever the process
# freed before (a module imported or not), and the baseline swung between 40,000 and 160,000
# faults with the package's imports.
GLIBC_DEFAULTS = {"MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}


def warm_step_faults(mode: str) -> int:
    environment = {**os.environ, "OMP_NUM_THREADS": "1", **(GLIBC_DEFAULTS if mode == "default" else {})}
    run = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True, env=environment
    )
    return int(run.stdout.split()[-1])


def test_freed_memory_is_kept_for_the_next_step_instead_of_faulted_in_anew():
    handed_back, kept = warm_step_faults("default"), warm_step_faults("kept")
    assert kept < handed_back / 2, (kept, handed_back)
