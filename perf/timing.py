"""Shared helpers of the perf scripts (they run as scripts, so this is imported from their folder)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls after one warm-up, in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def size_parser(description: str, default_repeats: int, what: str = "the image") -> argparse.ArgumentParser:
    """The common options: ``--quick``, ``--size WxH`` and ``--repeats``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small image, one run")
    parser.add_argument("--size", default="1920x1080", help=f"WxH of {what}")
    parser.add_argument("--repeats", type=int, default=default_repeats)
    return parser


def load_line() -> str:
    """The machine's load right now: ``load 1/5/15 min a/b/c on N CPU(s)`` (figures mean more beside it)."""
    import os

    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f}/{five:.2f}/{fifteen:.2f} on {os.cpu_count()} CPU(s)"


def conv_throughput(height: int, width: int, repeats: int) -> float:
    """Best GFLOP/s of a 64 -> 64 3x3 convolution on a ``[1, 64, height, width]`` map (either memory format)."""
    import torch
    from torch import nn

    conv = nn.Conv2d(64, 64, 3, padding=1).requires_grad_(False)
    x = torch.rand(1, 64, height, width)
    flops = 2 * 64 * 64 * 9 * height * width
    best = 0.0
    for fmt in (torch.contiguous_format, torch.channels_last):
        layer, inp = conv.to(memory_format=fmt), x.contiguous(memory_format=fmt)
        with torch.inference_mode():
            best = max(best, flops / best_time(lambda: layer(inp), repeats) / 1e9)
    return best
