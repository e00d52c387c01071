"""``train`` (and checkpoints in ``bench``) used as a careless or hostile user would (issue 12): bad settings and
files exit 2 with one line before a run folder exists, foreign folders are refused, one run per folder, a resumed
run's log has no repeated rows."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import cli
from models import MODELS
from models.run_folder import append_log_rows, roll_back_log
from models.runner import save_checkpoint
from simulator.dataset import generate_dataset
from simulator.lock import _start_time
from simulator.settings import load_simulation_config
from tests.helpers import one_error_line

TINY = [*MODELS.spec("tmrnet").tiny_overrides(), "data.workers=0", "train.patch=32", "train.batch_size=1",
        "train.progress=false", "train.log_every=1", "data.val_split=null"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile_train_data")
    config = load_simulation_config("bracketire", ["output.size=[128,128]", "num_samples=3", "output.split=Train",
                                                   "motion.model=none"])
    generate_dataset(config, root, progress=False)
    return root


def _train(out, data, *extra, args=()):
    sets = [item for s in (*TINY, *extra) for item in ("--set", s)]
    return CliRunner().invoke(cli.cli, ["train", "--out", str(out), "--data", str(data), *sets, *args])


BAD = [("train.batch_size=0", "train.batch_size=0"), ("train.save_every=0", "train.save_every=0"),
       ("train.lr=-1", "train.lr=-1"), ("train.lr=.nan", "train.lr=nan"), ("train.iters=0", "train.iters=0"),
       ("train.patch=33", "train.patch=33"), ("train.betas=[1.5, 0.9]", "train.betas[0]=1.5"),
       ("train.ema_decay=1", "train.ema_decay=1"), ("train.warmup_epochs=900", "train.warmup_epochs=900"),
       ("train.device=tpu", "train.device='tpu'"), ("data.workers=-1", "data.workers=-1"),
       ("data.scale=3", "data.scale=3"), ("data.white=0", "data.white=0"), ("data.train_split=../x", "data.train_split"),
       ("train.log_every=0", "train.log_every=0"), ("train.seed=-2", "train.seed=-2")]
if not torch.cuda.is_available():
    BAD.append(("train.device=cuda", "no CUDA device"))


@pytest.mark.parametrize("override,needle", BAD, ids=[o for o, _ in BAD])
def test_every_bad_training_setting_exits_2_before_a_run_folder_exists(data, tmp_path, override, needle):
    out = tmp_path / "run"
    one_error_line(_train(out, data, override), needle)
    assert not out.exists()


def test_missing_data_is_refused_before_a_run_folder_exists(tmp_path):
    out = tmp_path / "run"
    one_error_line(_train(out, tmp_path), "Train", "no such folder")
    assert not out.exists()


def test_a_folder_with_the_users_files_is_never_written_into(data, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "config.yaml").write_text("mine: true\n")
    one_error_line(_train(out, data, "train.iters=1"), "bracketire did not write")
    assert (out / "config.yaml").read_text() == "mine: true\n" and sorted(os.listdir(out)) == ["config.yaml"]
    afile = tmp_path / "afile"
    afile.write_text("x")
    one_error_line(_train(afile, data, "train.iters=1"), "is a file")


def test_a_second_run_on_a_locked_folder_names_the_holder_and_leaves_the_first_intact(data, tmp_path):
    out = tmp_path / "run"
    assert _train(out, data, "train.iters=1").exit_code == 0
    before = {p.name: p.read_bytes() for p in (out / "checkpoints").iterdir()}
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (out / ".bracketire-train.lock").write_text(json.dumps({"pid": holder.pid, "host": os.uname().nodename,
                                                                 "started": _start_time(holder.pid), "since": "now"}))
        one_error_line(_train(out, data, "train.iters=2", args=["--resume"]), f"pid {holder.pid}")
        assert {p.name: p.read_bytes() for p in (out / "checkpoints").iterdir()} == before
    finally:
        holder.kill()
        holder.wait()
    assert _train(out, data, "train.iters=2", args=["--resume"]).exit_code == 0  # a dead holder's lock is stale


def test_a_real_second_train_process_is_refused_while_the_first_runs(data, tmp_path):
    import signal
    import time

    from tests.conftest import REPO

    out = tmp_path / "run"
    sets = [item for s in (*TINY, "train.save_every=1000000") for item in ("--set", s)]
    command = [sys.executable, "cli.py", "train", "--out", str(out), "--data", str(data), *sets]
    first = subprocess.Popen([*command, "--set", "train.iters=1000000"], cwd=REPO, stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    try:
        lock = out / ".bracketire-train.lock"
        for _ in range(3000):  # until the first run holds its folder (a guard against a hang, not a timing)
            if first.poll() is not None or (lock.is_file() and str(first.pid) in lock.read_text()):
                break
            time.sleep(0.1)
        assert first.poll() is None, first.stderr.read()
        second = subprocess.run([*command, "--set", "train.iters=1"], cwd=REPO, capture_output=True, text=True)
        assert first.poll() is None  # the first was running all along
        assert second.returncode == 2, second.stderr
        lines = second.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error: {out}: in use by another bracketire run (pid {first.pid}")
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait()
    assert not lock.exists()  # the first run let go of its folder on SIGTERM


def test_resume_refuses_foreign_incomplete_and_hostile_checkpoints_in_one_line(data, tmp_path):
    out = tmp_path / "run"
    assert _train(out, data, "train.iters=1").exit_code == 0
    last = out / "checkpoints" / "last.pt"
    state = torch.load(last, weights_only=True)
    one_error_line(_train(out, data, "train.iters=2", "model.mid_channels=16", args=["--resume"]),
                    "a checkpoint of model 'tmrnet'", "mid_channels")
    torch.save({k: v for k, v in state.items() if k != "optimizer"}, last)
    one_error_line(_train(out, data, "train.iters=2", args=["--resume"]), "missing optimizer")
    torch.save({**state, "params": {k: v for i, (k, v) in enumerate(state["params"].items()) if i}}, last)
    one_error_line(_train(out, data, "train.iters=2", args=["--resume"]), "params does not fit tmrnet")
    torch.save({**state, "rng": {"payload": _Evil()}}, last)
    result = _train(out, data, "train.iters=2", args=["--resume"])
    one_error_line(result, "holds non-tensor objects (posix.system); refusing to load")
    assert "weights_only=False" not in result.output
    torch.save(state, last)
    (out / "config.yaml").unlink()
    one_error_line(_train(out, data, "train.iters=2", args=["--resume"]), "config.yaml: missing", "--config")


class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_bench_refuses_hostile_weights_and_missing_cuda_in_one_line(tmp_path):
    evil = tmp_path / "evil.pt"
    torch.save({"params": _Evil()}, evil)
    runs = ["--json", str(tmp_path / "s.json")]
    result = CliRunner(env={"BRACKETIRE_RUNS": str(tmp_path)}).invoke(
        cli.cli, ["bench", "--model", "tmrnet", "--weights", str(evil), "--no-progress", *runs])
    one_error_line(result, "evil.pt: holds non-tensor objects (posix.system); refusing to load")
    assert "weights_only=False" not in result.output
    if not torch.cuda.is_available():
        result = CliRunner().invoke(cli.cli, ["bench", "--model", "merge", "--device", "cuda", "--no-progress"])
        one_error_line(result, "--device=cuda", "no CUDA device")


def test_an_error_in_a_dataloader_worker_is_one_line(data, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(data / "Train", copy / "Train")  # a copy whose second sample is damaged after the checks
    frames = sorted((copy / "Train").glob("*/*"))
    np.save(frames[1] / "raw_gt.npy", np.zeros((3, 3, 3), np.float32))
    result = _train(tmp_path / "run", copy, "train.iters=6", "data.workers=1")
    one_error_line(result, "raw_gt.npy", "expected (H, W, 4)")
    assert "Original Traceback" not in result.output


def test_resume_rolls_the_log_back_to_the_checkpoint(data, tmp_path):
    out = tmp_path / "run"
    assert _train(out, data, "train.iters=4", "train.save_every=2").exit_code == 0
    rows = list(csv.reader(open(out / "log.csv")))
    assert max(int(r[1]) for r in rows[1:]) == 4
    state = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    state["scheduler"]["step"] = 2  # as if killed after the checkpoint of step 2 and before step 4's
    torch.save(state, out / "checkpoints" / "last.pt")
    assert _train(out, data, "train.iters=4", "train.save_every=2", args=["--resume"]).exit_code == 0
    steps = [int(r[1]) for r in csv.reader(open(out / "log.csv")) if r[0] == "loss"]
    assert steps == [1, 2, 3, 4]  # every step once (without the roll-back: 1, 2, 3, 4, 3, 4)


def test_roll_back_keeps_the_header_and_the_rows_up_to_the_step(tmp_path):
    (tmp_path / "log.csv").write_text("key,step,value\nloss,1,0.5\nloss,2,0.4\nval_psnr,2,30\nloss,3,0.3\n")
    assert roll_back_log(tmp_path, 2) == 1
    assert (tmp_path / "log.csv").read_text().splitlines() == ["key,step,value", "loss,1,0.5", "loss,2,0.4",
                                                               "val_psnr,2,30"]


def test_log_rows_go_out_in_one_write_and_a_torn_line_is_dropped_on_resume(tmp_path, monkeypatch):
    log = tmp_path / "log.csv"
    writes = []
    real_write = os.write
    monkeypatch.setattr(os, "write", lambda fd, data: writes.append(bytes(data)) or real_write(fd, data))
    append_log_rows(log, [["loss", 1, "0.5"], ["lr", 1, "0.001"]])
    append_log_rows(log, [["loss", 2, "0.4"], ["lr", 2, "0.001"]])
    assert writes == [b"key,step,value\r\nloss,1,0.5\r\nlr,1,0.001\r\n", b"loss,2,0.4\r\nlr,2,0.001\r\n"]

    def killed_mid_write(fd, data):  # the process dies after the kernel took 13 of the bytes
        real_write(fd, bytes(data)[:13])
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "write", killed_mid_write)
    with pytest.raises(KeyboardInterrupt):
        append_log_rows(log, [["loss", 3, "0.312345"], ["lr", 3, "0.001"]])
    monkeypatch.setattr(os, "write", real_write)
    assert log.read_bytes().endswith(b"loss,3,0.3123")  # torn: a wrong value that still parses
    assert roll_back_log(tmp_path, 5) == 1  # the torn line goes, the whole rows stay
    append_log_rows(log, [["loss", 3, "0.3"]])
    assert list(csv.reader(open(log, newline=""))) == [["key", "step", "value"], ["loss", "1", "0.5"], ["lr", "1", "0.001"],
                                                      ["loss", "2", "0.4"], ["lr", "2", "0.001"], ["loss", "3", "0.3"]]
    log.write_bytes(b"key,st")  # torn in the very first write
    assert roll_back_log(tmp_path, 5) == 1 and log.read_bytes() == b""
    append_log_rows(log, [["loss", 1, "0.5"]])
    assert log.read_bytes() == b"key,step,value\r\nloss,1,0.5\r\n"


def test_resume_after_a_torn_log_line_logs_every_step_once(data, tmp_path):
    out = tmp_path / "run"
    assert _train(out, data, "train.iters=2", "train.save_every=2").exit_code == 0
    with open(out / "log.csv", "ab") as handle:
        handle.write(b"loss,3,0.0")  # killed while logging step 3 (no line end)
    assert _train(out, data, "train.iters=4", "train.save_every=2", args=["--resume"]).exit_code == 0
    rows = list(csv.reader(open(out / "log.csv", newline="")))
    assert all(len(r) == 3 for r in rows) and [int(r[1]) for r in rows if r[0] == "loss"] == [1, 2, 3, 4]


def test_checkpoint_temporaries_are_unique(tmp_path):
    target = tmp_path / "checkpoints" / "last.pt"
    target.parent.mkdir()
    (target.parent / "last.pt.tmp").mkdir()  # the old fixed name, taken: a shared name would collide
    save_checkpoint(target, {"step": torch.tensor(1)})
    assert torch.load(target, weights_only=True)["step"] == 1
    assert sorted(p.name for p in target.parent.iterdir()) == ["last.pt", "last.pt.tmp"]


def test_a_full_disk_while_checkpointing_names_the_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    import errno

    def full(payload, path):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", full)
    target = tmp_path / "checkpoints" / "last.pt"
    with pytest.raises(Exception) as caught:
        save_checkpoint(target, {"step": 1})
    assert type(caught.value).__name__ == "DataError"
    assert str(caught.value) == f"{target}: cannot be written (No space left on device)"
    assert os.listdir(target.parent) == []


def test_model_arguments_the_constructor_rejects_are_one_line(data, tmp_path):
    result = _train(tmp_path / "run", data, "train.iters=1", "model.mid_channels=-4")
    one_error_line(result, "model 'tmrnet' cannot be built", "'mid_channels': -4")
