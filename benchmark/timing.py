"""Runtime numbers to trust: the median of repeated runs after a warm-up, and the hardware they ran on.

A single cold measurement of a model varies by two orders of magnitude (first-call allocations, lazy
initialisation, another job on the machine); the median of a few warm runs does not. Every stored runtime
carries the hardware it was measured on, so two numbers are only compared when that matches::

    timing = median_time(lambda: model(raws), repeats=3, warmup=1, device="cpu")
    timing.median_s, timing.repeats, hardware_name("cpu")   # 0.41, 3, 'AMD EPYC 7B13 (cpu, 2 threads)'
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from simulator.core.errors import ConfigError


@dataclass(frozen=True)
class Timing:
    """Wall times of ``repeats`` runs after ``warmup`` unmeasured ones.

    Attributes:
        median_s: the median of ``times_s``, in seconds (what tables report).
        repeats: how many runs were measured.
        warmup: how many runs came first, unmeasured.
        times_s: every measured run, in order, in seconds.
    """

    median_s: float
    repeats: int
    warmup: int
    times_s: tuple[float, ...]

    def to_dict(self) -> dict[str, object]:
        """JSON-ready: ``{"median_s", "repeats", "warmup", "times_s"}``, times rounded to microseconds."""
        return {"median_s": round(self.median_s, 6), "repeats": self.repeats, "warmup": self.warmup,
                "times_s": [round(t, 6) for t in self.times_s]}


def _synchronise(device: str | torch.device) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def median_time(fn: Callable[[], object], repeats: int = 3, warmup: int = 1,
                device: str | torch.device = "cpu") -> Timing:
    """Run ``fn`` ``warmup`` times unmeasured, then ``repeats`` times measured; CUDA work is waited for.

    Raises:
        ConfigError: ``repeats`` < 1 or ``warmup`` < 0.
    """
    if repeats < 1 or warmup < 0:
        raise ConfigError(f"timing repeats={repeats}, warmup={warmup}; expected repeats >= 1 and warmup >= 0")
    for _ in range(warmup):
        fn()
    _synchronise(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        _synchronise(device)
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), repeats, warmup, tuple(times))


def cpu_model() -> str:
    """The CPU's marketing name (``/proc/cpuinfo``'s ``model name``), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name") and ":" in line:
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def hardware_name(device: str | torch.device = "cpu") -> str:
    """What a runtime was measured on: ``'<GPU name> (cuda:0)'`` or ``'<CPU model> (cpu, N threads)'``."""
    dev = torch.device(device)
    if dev.type == "cuda":
        index = dev.index if dev.index is not None else torch.cuda.current_device()
        return f"{torch.cuda.get_device_name(index)} (cuda:{index})"
    return f"{cpu_model()} (cpu, {torch.get_num_threads()} threads)"
