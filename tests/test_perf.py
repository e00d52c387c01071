import os
import re
import subprocess
import sys

import pytest

from tests.conftest import REPO


def test_perf_isp_quick_reports_every_stage():
    done = subprocess.run([sys.executable, "perf/isp.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    for stage in ("unprocess", "process[bilinear]", "process[menon2007]", "process[demosaicnet]"):
        line = next(l for l in done.stdout.splitlines() if l.startswith(stage))
        assert re.search(r"\d+\.\d ms\s+\d+\.\d MP/s$", line), line


def test_perf_train_quick_reports_rates(tmp_path):
    env = {**os.environ, "BRACKETIRE_CACHE": str(tmp_path)}  # its small training split is simulated there
    done = subprocess.run([sys.executable, "perf/train.py", "--quick", "--workers", "0"], cwd=REPO,
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr
    assert re.search(r"^train step\s+\d+\.\d+ s\s+\d+\.\d+ it/s", done.stdout, re.M), done.stdout
    assert re.search(r"^data loading share\s+\d+\.\d %$", done.stdout, re.M), done.stdout


@pytest.mark.slow
def test_perf_zoo_quick_trains_benches_and_writes_the_table_with_its_budget(tmp_path):
    env = {**os.environ, "BRACKETIRE_CACHE": str(tmp_path / "cache"), "BRACKETIRE_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "perf/zoo.py", "--quick", "--runs", str(tmp_path / "runs")], cwd=REPO,
                          capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    table = (tmp_path / "runs" / "zoo.md").read_text()
    assert "2 iterations x batch 2 x 32x32 patches" in table and "192x128 quick test split" in table
    assert "`python perf/zoo.py --quick` trains them again" in table
    assert not list((tmp_path / "cache").glob("builtin_benchmark*"))  # the quick run never simulates the built-in one
    for model in ("reference", "merge", "tmrnet", "ahdrnet"):
        assert f"| {model} " in table
    tmrnet_row = next(line for line in table.splitlines() if line.startswith("| tmrnet "))
    assert "spynet: spynet_bracketire.pth sha256:" in tmrnet_row  # its SPyNet started from the shipped one
    rows = (tmp_path / "runs" / "bench.csv").read_text().splitlines()
    assert len(rows) == 5 and rows[0].startswith("model,")


def test_perf_real_quick_reports_reading_and_rendering():
    done = subprocess.run([sys.executable, "perf/real.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    for step in ("read bracket", "render", "render tiled 64"):
        assert re.search(rf"^{step}\s+\d+\.\d+ s\s+\d+\.\d+ MP/s$", done.stdout, re.M), done.stdout


def test_perf_scenes_quick_reports_each_generator():
    done = subprocess.run([sys.executable, "perf/scenes.py", "--quick"], cwd=REPO, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    for name in ("builtin (dead leaves)", "shapes", "builtin video, 12 frames"):
        line = next(l for l in done.stdout.splitlines() if l.startswith(name))
        assert re.search(r"640x384\s+wall\s+\d+\.\d ms\s+cpu\s+\d+\.\d ms$", line), line


def test_perf_inference_quick_reports_each_model_against_the_conv_reference():
    done = subprocess.run([sys.executable, "perf/inference.py", "--quick", "--profile"], cwd=REPO, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert re.search(r"^conv 64->64 3x3 @32\s+\d+\.\d GFLOP/s", done.stdout, re.M), done.stdout
    gflop = {}
    for name in ("ahdrnet", "kalantari17"):
        match = re.search(rf"^{name}\s+\d+\.\d ms\s+(\d+\.\d+) GFLOP\s+\d+\.\d GFLOP/s = \d+\.\d\d x conv", done.stdout, re.M)
        assert match, done.stdout
        gflop[name] = float(match.group(1))
    assert all(value > 0 for value in gflop.values())  # counted on meta: a model whose count fails shows 0
    # --profile: one line per model splitting its CPU time by kind; both models are mostly convolutions
    shares = re.findall(r"^\s+time: (.+)$", done.stdout, re.M)
    assert len(shares) == 2, done.stdout
    for line in shares:
        parts = dict((kind, int(pct)) for kind, pct in re.findall(r"(\w+) (\d+) %", line))
        assert 90 <= sum(parts.values()) <= 102, line  # kinds under 1 % are left out
        assert max(parts, key=parts.get) == "conv", line
