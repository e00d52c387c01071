"""Training never loses more than a few minutes: Ctrl-C saves and resumes bit-identically, wall-time
checkpoints, the start-of-run estimate, and ``train --help`` listing every setting."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from click.testing import CliRunner

import cli
from models import model_spec, runner
from models.run_guard import StopRequest, due_by_time, estimate_line, format_duration
from models.runner import load_training_state, train
from models.train_config import DataSection, RunConfig, TrainSection, load_run_config
from simulator.dataset import generate_dataset
from simulator.settings import load_simulation_config
from tests.conftest import REPO

MODEL = "ahdrnet"  # the quickest learned model at its tiny size (bit-identical resume of every model: test_resume.py)
TINY = [f"--set={item}" for item in model_spec(MODEL).tiny_overrides()]
SMALL = ["--set=train.patch=16", "--set=train.batch_size=1", "--set=data.workers=0", "--set=train.log_every=1",
         "--set=data.val_split=null", "--set=train.ema_decay=0.9"]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("guard")
    config = load_simulation_config("bracketire", ["output.size=[96,96]", "num_samples=2", "motion.model=none",
                                                   "output.split=Train", "seed=3"])
    generate_dataset(config, root, progress=False)
    return root


def _states(path):
    return load_training_state(path / "checkpoints" / "last.pt")


def test_sigint_saves_then_resume_equals_an_uninterrupted_run(data, tmp_path):
    """SIGINT to a real ``cli.py train`` process after its first checkpoint: it saves the step it reached and
    exits 130 with one line saying how to continue; ``--resume`` then ends bit-identical to a straight run."""
    run, iters = tmp_path / "interrupted", 400
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    command = [sys.executable, str(REPO / "cli.py"), "train", "--model", MODEL, "--data", str(data), "--out",
               str(run), "--iters", str(iters), *TINY, *SMALL, "--set=train.save_every=2", "--set=train.progress=false"]
    process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        while not (run / "checkpoints" / "last.pt").exists() and process.poll() is None:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    stopped = _states(run)["scheduler"]["step"]
    assert 2 <= stopped < iters
    assert err.strip().splitlines()[-1] == (f"{run}: stopped by SIGINT at step {stopped}/{iters}, checkpoint saved; "
                                            f"continue with: python cli.py train --out {run} --resume")
    config = load_run_config(run / "config.yaml")  # the schedule depends on train.iters: keep 400, stop early
    straight = tmp_path / "straight"
    train(config, straight, stop_at=stopped + 3)
    train(config, run, resume=True, stop_at=stopped + 3)
    a, b = _states(straight), _states(run)
    assert a["scheduler"]["step"] == b["scheduler"]["step"] == stopped + 3
    for part in ("params", "params_ema"):
        assert [k for k in a[part] if not torch.equal(a[part][k], b[part][k])] == []


def test_a_second_signal_aborts_without_waiting():
    before = signal.getsignal(signal.SIGINT)  # pytest's, or what an earlier test in this process left (Ray ignores it)
    with StopRequest(announce=False) as request:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)  # the handler runs between bytecodes of the main thread
        assert request.signal_number == signal.SIGINT
        with pytest.raises(KeyboardInterrupt, match="second SIGINT"):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGINT) is before  # the handler from before is back


def _recorded_saves(data, tmp_path, monkeypatch, save_minutes: float) -> list[int]:
    saved: list[int] = []
    real = runner._save
    monkeypatch.setattr(runner, "_save", lambda run: (saved.append(run.step), real(run)))
    overrides = [f"data.root={data}", "data.workers=0", "train.patch=16", "train.batch_size=1", "train.iters=4",
                 "train.progress=false", "data.val_split=null", "train.save_every=1000", f"train.save_minutes={save_minutes}"]
    train(load_run_config(base=RunConfig(MODEL, dict(model_spec(MODEL).tiny)), overrides=overrides),
          tmp_path / f"run{save_minutes}")
    return saved


def test_checkpoints_by_wall_time_as_well_as_by_steps(data, tmp_path, monkeypatch):
    assert _recorded_saves(data, tmp_path, monkeypatch, 0) == [4]  # 0: by steps only (and at the end)
    assert _recorded_saves(data, tmp_path, monkeypatch, 1e-9) == [1, 2, 3, 4]  # every step is "minutes" later


def test_wall_time_rule_and_estimate_line():
    assert not due_by_time(0.0, 10, now=599.9) and due_by_time(0.0, 10, now=600.0)
    assert not due_by_time(0.0, 0, now=1e9)
    assert [format_duration(s) for s in (42, 450, 7200, 3 * 86400)] == ["42 s", "7.5 min", "2.0 h", "3.0 days"]
    start = dt.datetime(2026, 1, 1, 12, 0)
    line = estimate_line("tmrnet", 0.5, 100, 400, 1000, 10, now=start)
    assert line == ("train tmrnet: 0.500 s/step, 300 steps to go: about 2.5 min (ends near 2026-01-01 12:02); "
                    "checkpoints every 1000 steps and every 10 min, and on Ctrl-C")


def test_train_help_lists_every_setting_with_its_default():
    text = CliRunner().invoke(cli.cli, ["train", "--help"]).output
    for prefix, section in (("train", TrainSection), ("data", DataSection)):
        for item in dataclasses.fields(section):
            assert f"{prefix}.{item.name}=" in text, item.name
    assert "train.save_minutes=10.0" in text and "train.iters=200000" in text and "data.augment=bayer" in text
