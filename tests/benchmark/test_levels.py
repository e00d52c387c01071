"""``noise.bit_depth`` and ``noise.black_level``: recorded in every sample and used wherever a raw is normalised.

The same scene and noise draws quantised at 10 bits, 12 bits, or 10 bits above a black level of 64 differ only by
quantisation once normalised; read as ``raw / 1023`` (what bench did before) the 12-bit one scored ~15.6 dB and the
black-level one ~10.1 dB instead of ~23 dB.
"""

from __future__ import annotations

import json

import pytest
import torch

from benchmark.bench import bench
from models.data import BracketDataset
from simulator.core.errors import DataError
from simulator.dataset import generate_dataset
from simulator.layout import list_frames, read_frame
from simulator.settings import load_simulation_config

LEVELS = {"10bit": (10, 0), "12bit": (12, 0), "black64": (10, 64)}


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    made = {}
    for name, (bits, black) in LEVELS.items():
        root = tmp_path_factory.mktemp(name)
        config = load_simulation_config("bracketire", ["output.size=[128,128]", "num_samples=1", "motion.model=none",
                                                       "seed=5", "output.previews=true", f"noise.bit_depth={bits}",
                                                       f"noise.black_level={black}"])
        generate_dataset(config, root, progress=False)
        made[name] = root
    return made


def _sample(root):
    return read_frame(list_frames(root)[0][2])


def test_levels_are_recorded_in_each_sample(roots):
    for name, (bits, black) in LEVELS.items():
        sample = _sample(roots[name])
        assert (sample.bit_depth, sample.black_level) == (bits, black)
        assert int(sample.raws.max()) <= 2**bits - 1
        manifest = json.loads((roots[name] / "manifest_Test.json").read_text())
        assert manifest["samples"][0]["bit_depth"] == bits and manifest["samples"][0]["black_level"] == black


def test_normalised_raws_differ_only_by_quantisation(roots):
    reference = _sample(roots["10bit"]).normalised_raws()
    for name in ("12bit", "black64"):
        bits, black = LEVELS[name]
        other = _sample(roots[name]).normalised_raws()
        step = 0.5 / 1023 + 0.5 / (2**bits - 1 - black)  # half a quantisation step of each
        assert (other - reference).abs().max() <= step + 1e-6, name
    # the training data applies the same normalisation
    data = BracketDataset(roots["black64"], "Test", mode="test")
    assert torch.allclose(data[0]["raws"], _sample(roots["black64"]).normalised_raws()[..., 5:-5, 5:-5])


def test_a_12_bit_or_black_level_dataset_scores_like_a_10_bit_one(roots, tmp_path):
    scores = {name: bench("reference", data=roots[name], runs_dir=tmp_path / name).score.mean["psnr"]
              for name in LEVELS}
    assert all(10 < v < 60 for v in scores.values()), scores
    assert abs(scores["12bit"] - scores["10bit"]) < 0.2, scores
    assert abs(scores["black64"] - scores["10bit"]) < 0.2, scores


def test_bad_levels_in_sample_json_are_named(roots, tmp_path):
    folder = list_frames(roots["10bit"])[0][2]
    bad = tmp_path / "bad"
    import shutil

    shutil.copytree(folder, bad)
    info = json.loads((bad / "sample.json").read_text())
    (bad / "sample.json").write_text(json.dumps({**info, "black_level": 5000}))
    with pytest.raises(DataError, match=r"sample.json: black_level=5000"):
        read_frame(bad)
