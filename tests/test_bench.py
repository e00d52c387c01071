"""cli.py bench end to end on the built-in benchmark (simulated once into a temporary cache)."""

import csv
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
    assert "| merge | bracketire@1 |" in merge.output and "unavailable" in merge.output  # LPIPS without weights
    scores = {name: json.loads((env / f"{name}.json").read_text()) for name in ("merge", "reference")}
    assert scores["merge"]["count"] == 4
    assert scores["merge"]["mean"]["psnr"] > scores["reference"]["mean"]["psnr"] + 3
    rows = list(csv.DictReader(open(env / "runs" / "bench.csv")))
    assert [r["model"] for r in rows] == ["merge", "reference"]
    assert rows[0]["protocol"] == "bracketire@1" and rows[0]["data_sha256"] and rows[0]["date"]
    board = CliRunner().invoke(cli.cli, ["leaderboard", "--protocol", "bracketire@1", "--include-runs"])
    assert board.exit_code == 0 and board.output.index("merge") < board.output.index("reference")


def test_models_that_need_weights_say_so(env):
    result = _bench("--model", "tmrnet")
    assert result.exit_code == 2
    assert "needs weights: pass --weights PATH" in result.stderr and "reference, merge" in result.stderr
    assert "$BRACKETIRE_TMRNET" in result.stderr and "TMRNet_model_400.pth" in result.stderr
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
    result = _bench("--model", "tmrnet", "--data", str(tmp_path / "data"))
    assert result.exit_code == 0, result.output
    assert "| tmrnet | bracketire@1 |" in result.output and "| 13.29 |" in result.output


def test_builtin_benchmark_versions_have_their_own_data_and_checksum(env):
    from benchmark.bench import bench, builtin_benchmark
    from simulator.core.errors import ConfigError

    v1, v2 = builtin_benchmark(version=1), builtin_benchmark(version=2)
    assert v1 != v2 and (v1 / "Test" / "shapes").is_dir() and (v2 / "Test" / "builtin").is_dir()
    old = bench("merge", data=v1, runs_dir=env / "versions").row
    new = bench("merge", runs_dir=env / "versions").row  # no data: the current version, 2
    assert old["data_sha256"] != new["data_sha256"] and "unknown" not in (old["data_sha256"], new["data_sha256"])
    assert new["source"] == "bench (built-in benchmark v2)"
    with pytest.raises(ConfigError, match="version 3"):
        builtin_benchmark(version=3)
