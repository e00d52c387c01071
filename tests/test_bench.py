"""cli.py bench end to end on the built-in benchmark (simulated once into a temporary cache)."""

import csv
import hashlib
import json

import pytest
import torch
from click.testing import CliRunner

import cli


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    patch = pytest.MonkeyPatch()
    patch.setenv("BRACKETIRE_CACHE", str(root / "cache"))
    patch.setenv("BRACKETIRE_RUNS", str(root / "runs"))
    patch.setenv("BRACKETIRE_OFFLINE", "1")
    from benchmark import bench

    for version, (name, overrides) in list(bench.BUILTIN_BENCHMARKS.items()):  # 192x128 instead of 640x384:
        small = [o if not o.startswith("output.size=") else "output.size=[192, 128]" for o in overrides]  # 10x fewer
        patch.setitem(bench.BUILTIN_BENCHMARKS, version, (name, small))  # pixels, same scenes, samples and seed
    yield root
    patch.undo()


def _bench(*args):
    return CliRunner().invoke(cli.cli, ["bench", "--no-progress", *args])


def test_merge_beats_reference_on_the_builtin_benchmark(env):
    merge = _bench("--model", "merge", "--json", str(env / "merge.json"))
    reference = _bench("--model", "reference", "--json", str(env / "reference.json"))
    assert merge.exit_code == 0 and reference.exit_code == 0, merge.output + reference.output
    assert "| merge | merge | bracketire@1 |" in merge.output and "unavailable" in merge.output  # LPIPS without weights
    assert "runtime: median of 3 runs on the first image after a warm-up pass, on " in merge.output
    assert f"row 'merge' appended to {env / 'runs' / 'bench.csv'}" in merge.output
    scores = {name: json.loads((env / f"{name}.json").read_text()) for name in ("merge", "reference")}
    assert scores["merge"]["count"] == 4
    assert scores["merge"]["mean"]["psnr"] > scores["reference"]["mean"]["psnr"] + 3
    rows = list(csv.DictReader(open(env / "runs" / "bench.csv")))
    assert [r["model"] for r in rows] == ["merge", "reference"]
    assert rows[0]["protocol"] == "bracketire@1" and rows[0]["data_sha256"] and rows[0]["date"]
    # bench --json: what was run, on what, how the runtime was measured, next to the scores
    doc = scores["merge"]
    assert doc["model"] == "merge" and doc["label"] == rows[0]["label"] == "merge" and doc["parameters"] == 0
    runtime = doc["runtime"]
    assert runtime["repeats"] == 3 and len(runtime["times_s"]) == 3 and runtime["warmup"] == 1
    assert runtime["median_s"] == sorted(runtime["times_s"])[1] and runtime["median_s"] > 0
    assert runtime["hardware"] == rows[0]["hardware"] and "(cpu, " in runtime["hardware"] and "threads)" in runtime["hardware"]
    assert float(rows[0]["runtime_s"]) == round(runtime["median_s"], 4) and rows[0]["runtime_repeats"] == "3"
    assert doc["weights"] is None and doc["data"]["sha256"] == rows[0]["data_sha256"]
    assert doc["data"]["images"] == 4 and doc["data"]["builtin_benchmark"] == 2 and doc["protocol"] == "bracketire@1"
    board = CliRunner().invoke(cli.cli, ["leaderboard", "--protocol", "bracketire@1", "--include-runs"])
    assert board.exit_code == 0 and board.output.index("merge") < board.output.index("reference")


def test_models_that_need_weights_say_so(env):
    result = _bench("--model", "tmrnet_plus")  # nothing shipped for it
    assert result.exit_code == 2
    assert "needs weights: pass --weights PATH" in result.stderr and "reference, merge" in result.stderr
    assert "$BRACKETIRE_TMRNET_PLUS" in result.stderr and "TMRNet_plus_model_400.pth" in result.stderr
    assert "no model named 'tmrnt'; did you mean 'tmrnet'" in _bench("--model", "tmrnt").stderr


def test_published_weights_are_found_through_their_environment_variable(env, tmp_path, monkeypatch):
    from models import build_model

    torch.manual_seed(0)
    torch.save({"state_dict": build_model("tmrnet").state_dict()}, tmp_path / "TMRNet_model_400.pth")
    monkeypatch.setenv("BRACKETIRE_TMRNET", str(tmp_path / "TMRNet_model_400.pth"))
    from simulator.dataset import generate_dataset  # a small test split: the full-width network is slow on CPU
    from simulator.settings import load_simulation_config

    overrides = ["output.size=[96, 64]", "num_samples=1", "seed=3", "output.previews=true"]
    generate_dataset(load_simulation_config("bracketire", overrides), tmp_path / "data", progress=False)
    result = _bench("--model", "tmrnet", "--data", str(tmp_path / "data"), "--repeats", "1", "--json",
                    str(tmp_path / "t.json"))
    assert result.exit_code == 0, result.output
    assert "| tmrnet | tmrnet:published | bracketire@1 |" in result.output and "| 13.29 |" in result.output
    weights = json.loads((tmp_path / "t.json").read_text())["weights"]
    assert weights["which"] == "published" and weights["path"] == str((tmp_path / "TMRNet_model_400.pth").resolve())
    assert weights["sha256"] == hashlib.sha256((tmp_path / "TMRNet_model_400.pth").read_bytes()).hexdigest()


def test_builtin_benchmark_versions_have_their_own_data_and_checksum(env):
    from benchmark.bench import bench, builtin_benchmark
    from simulator.core.errors import ConfigError

    v1, v2 = builtin_benchmark(version=1), builtin_benchmark(version=2)
    assert v1 != v2 and (v1 / "Test" / "shapes").is_dir() and (v2 / "Test" / "builtin").is_dir()
    assert v1.name.startswith("builtin_benchmark_v1-") and v2.name.startswith("builtin_benchmark_v2-")
    old = bench("merge", data=v1, runs_dir=env / "versions").row
    new = bench("merge", runs_dir=env / "versions").row  # no data: the current version, 2
    assert old["data_sha256"] != new["data_sha256"] and "unknown" not in (old["data_sha256"], new["data_sha256"])
    assert new["source"] == "bench (built-in benchmark v2)"
    with pytest.raises(ConfigError, match="version 3"):
        builtin_benchmark(version=3)


def test_two_runs_of_one_model_are_told_apart_by_their_labels(env, tmp_path, monkeypatch):
    from models import MODELS
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    overrides = ["output.size=[96, 64]", "num_samples=1", "seed=3", "output.previews=true"]
    generate_dataset(load_simulation_config("bracketire", overrides), tmp_path / "data", progress=False)
    tiny = dict(MODELS.spec("ahdrnet").tiny)
    for seed, run in ((0, "run_a"), (1, "run_b")):  # two checkpoints as the runner writes them
        torch.manual_seed(seed)
        (tmp_path / run / "checkpoints").mkdir(parents=True)
        params = MODELS.spec("ahdrnet").build_tiny().state_dict()
        torch.save({"params": params, "model_config": {"name": "ahdrnet", "kwargs": tiny}},
                   tmp_path / run / "checkpoints" / "last.pt")
    runs = tmp_path / "runs"
    monkeypatch.setenv("BRACKETIRE_RUNS", str(runs))
    for run in ("run_a", "run_b"):
        result = _bench("--model", "ahdrnet", "--weights", str(tmp_path / run / "checkpoints" / "last.pt"),
                        "--data", str(tmp_path / "data"), "--repeats", "1")
        assert result.exit_code == 0, result.output
    named = _bench("--model", "ahdrnet", "--weights", str(tmp_path / "run_b" / "checkpoints" / "last.pt"),
                   "--data", str(tmp_path / "data"), "--repeats", "1", "--label", "ahdrnet (lr 1e-4)")
    assert named.exit_code == 0, named.output
    rows = list(csv.DictReader(open(runs / "bench.csv")))
    assert [r["label"] for r in rows] == ["ahdrnet:run_a", "ahdrnet:run_b", "ahdrnet (lr 1e-4)"]
    assert len({r["weights_sha256"] for r in rows}) == 2
    board = CliRunner().invoke(cli.cli, ["leaderboard", "--protocol", "bracketire@1"])
    assert board.exit_code == 0, board.output
    assert "ahdrnet:run_a" in board.stdout and "ahdrnet:run_b" in board.stdout
    assert "duplicate" not in board.stderr and "contradictory" not in board.stderr  # different labels, not duplicates


def test_tmrnet_runs_with_no_flag_on_the_weights_shipped_in_the_package(env, monkeypatch):
    """A fresh clone: ``bench --model tmrnet`` finds models/weights/tmrnet_bracketire.pth, says so with the
    checksum its card records, and the card's own benchmark entries are of those bytes."""
    from tests.conftest import REPO

    monkeypatch.delenv("BRACKETIRE_TMRNET", raising=False)
    monkeypatch.delenv("BRACKETIRE_TMRNET_SHIPPED", raising=False)
    weights = REPO / "models" / "weights" / "tmrnet_bracketire.pth"
    card = json.loads(weights.with_suffix(".json").read_text())
    assert card["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert card["benchmarks"] and all(b["weights_sha256"] == card["sha256"] for b in card["benchmarks"])
    result = _bench("--model", "tmrnet", "--repeats", "1", "--json", str(env / "shipped.json"))
    assert result.exit_code == 0, result.output
    assert f"weights: shipped tmrnet_bracketire.pth sha256:{card['sha256'][:12]}" in result.stderr
    doc = json.loads((env / "shipped.json").read_text())
    assert doc["weights"]["which"] == "shipped" and doc["weights"]["sha256"] == card["sha256"]
