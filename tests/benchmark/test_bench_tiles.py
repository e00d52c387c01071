"""``bench --tile`` / ``--memory-gb``: the tiling reaches inference, a budget too small is refused (exit 2); a
checkpoint's saved model arguments meet the typed checks of ``--set model.*``."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import cli
from simulator.dataset import generate_dataset
from simulator.settings import load_simulation_config


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiles")
    config = load_simulation_config("bracketire", ["output.size=[192,160]", "num_samples=1", "motion.model=none",
                                                   "seed=4", "output.previews=true"])
    generate_dataset(config, root, progress=False)
    return root


def _bench(data, tmp_path, name, *args):
    out = tmp_path / f"{name}.json"
    result = CliRunner().invoke(cli.cli, ["bench", "--no-progress", "--model", "reference", "--data", str(data),
                                          "--json", str(out), "--repeats", "1", *args], env={"BRACKETIRE_RUNS": str(tmp_path / "runs")})
    return result, (json.loads(out.read_text())["mean"]["psnr"] if out.is_file() else None)


def test_tiles_and_budget_give_the_whole_image_scores(data, tmp_path, monkeypatch):
    import models.inference as inference

    sizes = []
    real_run = inference._run
    monkeypatch.setattr(inference, "_run", lambda m, r, *rest: sizes.append(tuple(r.shape[-2:])) or real_run(m, r, *rest))
    whole, psnr_whole = _bench(data, tmp_path, "whole", "--tile", "0")
    assert whole.exit_code == 0, whole.output
    assert sizes == [(70, 86)] * 2  # 80x96 packed, 5 cropped per side: one forward, and one timed (--repeats 1)
    sizes.clear()
    tiled, psnr_tiled = _bench(data, tmp_path, "tiled", "--tile", "24")
    assert tiled.exit_code == 0, tiled.output
    assert len(sizes) == 3 * 4 * 2 and max(h for h, _ in sizes) <= 24 + 2 * 32
    sizes.clear()
    budget = inference.forward_bytes((16 + 2 * 32) ** 2, 64, 5) / 2**30 + 1e-6  # a 16-pixel core (+ what 6 decimals cut)
    budgeted, psnr_budget = _bench(data, tmp_path, "budget", "--memory-gb", f"{budget:.6f}")
    assert budgeted.exit_code == 0, budgeted.output
    assert max(h * w for h, w in sizes) <= 80 * 80 and len(sizes) == 5 * 6 * 2
    assert psnr_whole == psnr_tiled == psnr_budget  # a per-pixel model: tiling changes nothing


def test_a_budget_too_small_exits_2_naming_it(data, tmp_path):
    result, _ = _bench(data, tmp_path, "tiny", "--memory-gb", "0.001")
    assert result.exit_code == 2
    assert "--memory-gb 0.001: too small" in result.stderr and "Traceback" not in result.output


def test_a_checkpoint_model_config_meets_the_typed_checks(data, tmp_path):
    import torch

    weights = tmp_path / "hostile.pt"
    torch.save({"params": {"w": torch.zeros(1)}, "model_config": {"name": "rbsr", "kwargs": {"mid_channels": "wide"}}},
               weights)
    result = CliRunner().invoke(cli.cli, ["bench", "--no-progress", "--model", "rbsr", "--data", str(data),
                                          "--weights", str(weights)], env={"BRACKETIRE_RUNS": str(tmp_path / "r")})
    assert result.exit_code == 2
    assert "hostile.pt" in result.stderr and "model.mid_channels" in result.stderr
