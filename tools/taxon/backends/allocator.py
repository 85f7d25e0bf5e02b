"""The C allocator's settings for a process that runs a model on the CPU.

glibc serves a block above its mmap threshold (128 KiB, adapting up to 32 MiB) with a fresh
mapping, unmapped when freed, and hands the heap's free top back to the system past its trim
threshold. A model's tensors are freed and asked for again every step (activations, logits,
gradients), so each step page-faults them in anew: a full fine-tuning step of the demo made
210,000 minor page faults and spent a fifth of its time on them. With the threshold fixed at
32 MiB, no trimming and the heap grown a GiB at a time, freed memory serves the next step as it
is: the demo's training took 297 s instead of 336 s, its peak memory 6.8 GB instead of 6.1.
(No mapping at all, every block in the heap: 308 s and 10.4 GB, aligned blocks fragmenting it.)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

M_TRIM_THRESHOLD = -1  # mallopt parameters (malloc.h)
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
LARGEST = 2**31 - 1  # mallopt takes an int


@functools.cache
def keep_freed_memory() -> bool:
    """Set glibc's thresholds once for the process; False where libc is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    settings = ((M_MMAP_THRESHOLD, 32 << 20), (M_TRIM_THRESHOLD, LARGEST), (M_TOP_PAD, 1 << 30))
    return all(mallopt(parameter, value) for parameter, value in settings)
