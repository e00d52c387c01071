"""Runtime numbers: warm-up runs unmeasured, the median of the measured ones, the hardware named."""

from __future__ import annotations

import pytest
import torch

from benchmark import timing
from benchmark.timing import hardware_name, median_time
from simulator.core.errors import ConfigError


def test_median_of_the_measured_runs_after_the_warm_up(monkeypatch):
    calls = []
    durations = iter([5.0, 1.0, 3.0, 2.0])  # each run advances the clock this much; the 5 s warm-up must not count
    now = [0.0]

    def fake_counter():
        return now[0]

    def run():
        calls.append(1)
        now[0] += next(durations)

    monkeypatch.setattr(timing.time, "perf_counter", fake_counter)
    result = median_time(run, repeats=3, warmup=1)
    assert len(calls) == 4
    assert result.times_s == (1.0, 3.0, 2.0) and result.median_s == 2.0
    assert (result.repeats, result.warmup) == (3, 1)
    assert result.to_dict() == {"median_s": 2.0, "repeats": 3, "warmup": 1, "times_s": [1.0, 3.0, 2.0]}


def test_bad_repeats_are_a_setting_error():
    with pytest.raises(ConfigError, match="repeats=0"):
        median_time(lambda: None, repeats=0)


def test_the_hardware_is_named_with_its_threads(monkeypatch):
    monkeypatch.setattr(timing, "cpu_model", lambda: "Example CPU 9000")
    monkeypatch.setattr(torch, "get_num_threads", lambda: 7)
    assert hardware_name("cpu") == "Example CPU 9000 (cpu, 7 threads)"
    assert timing.cpu_model()  # the real one: /proc/cpuinfo's model name or platform's


def test_cpu_model_reads_proc_cpuinfo(monkeypatch, tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: X\nmodel name\t:   Example   CPU 9000  \n")
    real = timing.Path
    monkeypatch.setattr(timing, "Path", lambda p: info if p == "/proc/cpuinfo" else real(p))
    assert timing.cpu_model() == "Example CPU 9000"
