"""torch's intra-op thread count, set for a block and restored after."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def one_thread() -> Iterator[None]:
    """torch on one thread inside the block, the caller's thread count restored after.

    For results that must not depend on the thread count (multi-threaded kernels sum in another order) and for
    work that brings its own coarse parallelism (a thread that loses its core then stalls only itself).
    """
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:  # also undoes a change made inside the block
            torch.set_num_threads(before)
