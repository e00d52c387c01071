"""cli.py train end to end: a tiny TMRNet trained, resumed, refused over an existing run, then benched."""

import csv

import pytest
import torch
from click.testing import CliRunner

import cli
from models import model_spec
from simulator.dataset import generate_dataset
from simulator.settings import load_simulation_config

TINY = [*(arg for item in model_spec("tmrnet").tiny_overrides() for arg in ("--set", item)), "--set", "train.patch=32",
        "--set", "train.batch_size=2", "--set", "data.workers=0", "--set", "train.progress=false"]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli_train")
    for split, seed, previews in (("Train", 0, "false"), ("Test", 5, "true")):
        config = load_simulation_config("bracketire", ["output.size=[128,128]", "num_samples=2", f"seed={seed}",
                                                       f"output.split={split}", "motion.model=none",
                                                       f"output.previews={previews}"])
        generate_dataset(config, root / "data", progress=False)
    return root


def _cli(*args):
    return CliRunner().invoke(cli.cli, list(args))


def test_train_resume_and_bench_the_trained_run(data, monkeypatch):
    monkeypatch.setenv("BRACKETIRE_RUNS", str(data / "runs"))
    run = data / "run"
    first = _cli("train", "--model", "tmrnet", "--data", str(data / "data"), "--out", str(run), "--iters", "2", *TINY)
    assert first.exit_code == 0, first.output
    assert "tmrnet: step 2/2" in first.output and "val psnr" in first.output
    again = _cli("train", "--model", "tmrnet", "--data", str(data / "data"), "--out", str(run), "--iters", "2", *TINY)
    assert again.exit_code == 2 and "already holds a run; pass --resume" in again.stderr
    more = _cli("train", "--out", str(run), "--resume", "--iters", "3")  # the rest comes from the run's config.yaml
    assert more.exit_code == 0, more.output
    assert "tmrnet: step 3/3" in more.output
    bench = _cli("bench", "--model", "tmrnet", "--weights", str(run / "checkpoints" / "last.pt"),
                 "--data", str(data / "data"), "--no-progress")
    assert bench.exit_code == 0, bench.output
    row = list(csv.DictReader(open(data / "runs" / "bench.csv")))[-1]
    assert row["model"] == "tmrnet" and float(row["params_m"]) < 2 and row["weights_sha256"]
    wrong = _cli("bench", "--model", "tmrnet_plus", "--weights", str(run / "checkpoints" / "last.pt"),
                 "--data", str(data / "data"), "--no-progress")
    assert wrong.exit_code == 2 and "a checkpoint of model 'tmrnet'" in wrong.stderr


def test_train_errors_are_one_line(data, tmp_path):
    result = _cli("train", "--model", "tmrnet", "--data", str(data / "data"), "--out", str(tmp_path / "r"),
                  "--set", "model.widht=3")
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "model.width" not in result.stderr
    assert "no argument of model 'tmrnet' named 'widht'" in result.stderr or "widht" in result.stderr
    missing = _cli("train", "--model", "tmrnet", "--out", str(tmp_path / "r2"), "--iters", "1")
    assert missing.exit_code == 2 and "pass --data DIR" in missing.stderr


def _tiny_checkpoint(path, seed):
    from models import MODELS
    torch.manual_seed(seed)
    spec = MODELS.spec("tmrnet")
    torch.save({"params": spec.build_tiny().state_dict(), "model_config": {"name": "tmrnet", "kwargs": dict(spec.tiny)}}, path)
    return path


def test_bench_without_weights_runs_the_shipped_then_the_published_and_says_which(data, tmp_path, monkeypatch):
    """No --weights: the published checkpoint when one is found, else the shipped one; the output names it."""
    monkeypatch.setenv("BRACKETIRE_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("BRACKETIRE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("BRACKETIRE_TMRNET", raising=False)
    shipped = _tiny_checkpoint(tmp_path / "shipped.pth", 1)
    monkeypatch.setenv("BRACKETIRE_TMRNET_SHIPPED", str(shipped))
    first = _cli("bench", "--model", "tmrnet", "--data", str(data / "data"), "--no-progress")
    assert first.exit_code == 0, first.output
    assert "weights: shipped shipped.pth sha256:" in first.stderr
    monkeypatch.setenv("BRACKETIRE_TMRNET", str(_tiny_checkpoint(tmp_path / "published.pth", 2)))
    second = _cli("bench", "--model", "tmrnet", "--data", str(data / "data"), "--no-progress")
    assert second.exit_code == 0, second.output
    assert "weights: published published.pth sha256:" in second.stderr
    rows = list(csv.DictReader(open(tmp_path / "runs" / "bench.csv")))
    assert rows[0]["weights_sha256"] != rows[1]["weights_sha256"] and rows[0]["psnr"] != rows[1]["psnr"]


def _ship_module():
    import importlib.util

    from tests.conftest import REPO

    spec = importlib.util.spec_from_file_location("ship_weights", REPO / "perf" / "ship_weights.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipping_a_run_records_its_card_and_only_benches_of_those_very_bytes(data, tmp_path, monkeypatch):
    """perf/ship_weights.py: EMA weights + a card whose SHA-256 is the file's; bench numbers join the card only
    when they were measured on the shipped bytes (a bench of the run's checkpoint is refused, nothing written)."""
    import hashlib
    import json

    monkeypatch.setenv("BRACKETIRE_RUNS", str(tmp_path / "runs"))
    run = tmp_path / "run"
    assert _cli("train", "--model", "tmrnet", "--data", str(data / "data"), "--out", str(run), "--iters", "2",
                *TINY).exit_code == 0
    ship = _ship_module().ship
    folder = tmp_path / "weights"
    target = ship(run, "tiny", "two 128x128 samples", folder=folder)
    card = json.loads(target.with_suffix(".json").read_text())
    assert card["sha256"] == hashlib.sha256(target.read_bytes()).hexdigest() and card["step"] == 2
    assert set(torch.load(target, weights_only=True)) == {"params", "model_config"}  # no optimiser, no RNG state
    for weights, name in ((target, "shipped.json"), (run / "checkpoints" / "last.pt", "run.json")):
        benched = _cli("bench", "--model", "tmrnet", "--weights", str(weights), "--data", str(data / "data"),
                       "--json", str(tmp_path / name), "--no-progress", "--repeats", "1")
        assert benched.exit_code == 0, benched.output
    with pytest.raises(SystemExit, match="run.json: benched other weights"):
        ship(run, "tiny", "two 128x128 samples", replace=True, benches=(tmp_path / "run.json",), folder=folder)
    assert json.loads(target.with_suffix(".json").read_text()) == card  # refused before writing
    ship(run, "tiny", "two 128x128 samples", replace=True, benches=(tmp_path / "shipped.json",), folder=folder)
    recorded = json.loads(target.with_suffix(".json").read_text())["benchmarks"][0]
    measured = json.loads((tmp_path / "shipped.json").read_text())
    assert recorded["mean"] == measured["mean"] and recorded["weights_sha256"] == card["sha256"]
