"""Kill-and-resume is bit-identical for every registered learned model at its tiny configuration.

Two steps, a stop (what ``kill`` leaves: the checkpoint of step 2), two more steps on ``--resume``: weights, EMA
weights and optimiser moments equal those of four uninterrupted steps (``torch.equal``). RBSR draws a random
supervision step in every training forward, so any shift of the global RNG on resume shows up there.
"""

from __future__ import annotations

import pytest
import torch

from models import MODELS
from models.runner import load_training_state, train
from models.train_config import RunConfig, load_run_config
from simulator.dataset import generate_dataset
from simulator.settings import load_simulation_config


def _tiny(name: str) -> dict:
    return dict(MODELS.spec(name).tiny)


def _learned() -> list[str]:
    """Registered models with trainable parameters (the classical merges have none)."""
    return [n for n in MODELS.names() if MODELS.spec(n).needs_weights]


pytestmark = pytest.mark.usefixtures("one_thread")  # tests/conftest.py


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    roots = {}
    for preset, scale in (("bracketire", 1), ("bracketire_plus", 4)):
        root = tmp_path_factory.mktemp(f"resume_{preset}")
        size = 96 if scale == 1 else 128
        config = load_simulation_config(preset, [f"output.size=[{size},{size}]", "num_samples=2", "motion.model=none",
                                                 "output.split=Train", "seed=3"])
        generate_dataset(config, root, progress=False)
        roots[scale] = root
    return roots


def _config(name: str, root, scale: int) -> RunConfig:
    base = RunConfig(name, _tiny(name))
    patch = 16 if scale == 1 else 8
    return load_run_config(base=base, overrides=[f"data.root={root}", f"data.scale={scale}", "data.workers=0",
                                                  f"train.patch={patch}", "train.batch_size=1", "train.iters=4",
                                                  "train.progress=false", "train.log_every=1",
                                                  "train.val_every=0", "train.save_every=1000"])


def test_every_learned_model_is_covered():
    names = _learned()
    assert "rbsr" in names and "tmrnet" in names and len(names) == len(MODELS.names()) - 2  # all but reference, merge


@pytest.mark.parametrize("name", _learned())
def test_kill_and_resume_equals_an_uninterrupted_run(name, datasets, tmp_path):
    scale = 4 if name == "tmrnet_plus" else 1
    config = _config(name, datasets[scale], scale)
    train(config, tmp_path / "straight")
    train(config, tmp_path / "resumed", stop_at=2)
    half = load_training_state(tmp_path / "resumed" / "checkpoints" / "last.pt")
    assert half["scheduler"]["step"] == 2
    train(load_run_config(tmp_path / "resumed" / "config.yaml"), tmp_path / "resumed", resume=True)
    a = load_training_state(tmp_path / "straight" / "checkpoints" / "last.pt")
    b = load_training_state(tmp_path / "resumed" / "checkpoints" / "last.pt")
    assert a["scheduler"]["step"] == b["scheduler"]["step"] == 4
    for part in ("params", "params_ema"):
        assert a[part].keys() == b[part].keys()
        differ = [k for k in a[part] if not torch.equal(a[part][k], b[part][k])]
        assert not differ, f"{name} {part}: {differ[:3]}"
    assert a["ema_updates"] == b["ema_updates"] == 4
    sa, sb = a["optimizer"]["state"], b["optimizer"]["state"]
    assert sa.keys() == sb.keys() and sa
    for i in sa:
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert torch.equal(sa[i][key], sb[i][key]), f"{name} optimizer state {i}.{key}"
    # the run moved: the resumed weights are not simply the 2-step ones
    assert any(not torch.equal(half["params"][k], b["params"][k]) for k in b["params"])
