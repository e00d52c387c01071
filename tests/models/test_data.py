import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from models.data import AUGMENT_MODES, BracketDataset, _augment, augment_published, published_batch_flips
from simulator.bayer import pack, unpack
from simulator.core.errors import BracketIREError, DataError
from simulator.dataset import generate_dataset
from simulator.settings import load_simulation_config


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    root = tmp_path_factory.mktemp("data")
    for preset, name in (("bracketire", "syn"), ("bracketire_plus", "plus")):
        config = load_simulation_config(preset, ["output.size=[320,320]", "num_samples=3", "output.split=Train",
                                                 "motion.model=none"])
        generate_dataset(config, root / name, progress=False)
    return root


def test_train_patches_follow_the_published_windows(datasets):
    data = BracketDataset(datasets / "syn", "Train", "train", patch=64, augment=False)
    item = data[0]
    assert item["raws"].shape == (5, 4, 64, 64) and item["gt"].shape == (4, 64, 64)
    assert item["raws"].dtype == torch.float32 and 0 <= item["raws"].min() and item["raws"].max() <= 1
    assert item["meta"]["red_gain"].shape == (1,) and item["name"] == "builtin-000000"
    assert torch.equal(data[0]["raws"], item["raws"])  # same epoch, same crop
    data.set_epoch(1)
    assert not torch.equal(data[0]["raws"], item["raws"])
    plus = BracketDataset(datasets / "plus", "Train", "train", scale=4, patch=16, augment=False)[0]
    assert plus["raws"].shape == (5, 4, 16, 16) and plus["gt"].shape == (4, 64, 64)


def test_test_and_val_crops(datasets):
    test = BracketDataset(datasets / "syn", "Train", "test")[1]
    assert test["raws"].shape == (5, 4, 150, 150) and test["gt"].shape == (4, 160, 160)
    val = BracketDataset(datasets / "syn", "Train", "val")
    assert len(val) == 1  # every 20th frame per scene
    assert val[0]["raws"].shape[-2:] == (128, 150)  # published [10:138, 10:522], cut by this small frame
    plus = BracketDataset(datasets / "plus", "Train", "test", scale=4)[0]
    assert plus["raws"].shape == (5, 4, 36, 36) and plus["gt"].shape == (4, 160, 160)


def test_augmentation_keeps_the_bayer_phase():
    bayer = torch.arange(64.0).reshape(8, 8)
    packed = pack(bayer)[None]
    raws, _ = _augment(packed, packed[0], torch.tensor([0, 0, 1]).numpy())
    # transposing the mosaic keeps R on R sites and B on B sites when Gr and Gb swap
    assert torch.equal(unpack(raws[0]), bayer.T)


def test_loader_batches_and_bad_inputs(datasets):
    loader = DataLoader(BracketDataset(datasets / "syn", "Train", "train", patch=32), batch_size=2)
    batch = next(iter(loader))
    assert batch["raws"].shape == (2, 5, 4, 32, 32) and batch["meta"]["cam2rgb"].shape == (2, 3, 3)
    with pytest.raises(DataError, match="too small for patch 512"):
        BracketDataset(datasets / "syn", "Train", "train", patch=512)[0]
    with pytest.raises(DataError, match="mode='training'"):
        BracketDataset(datasets / "syn", "Train", "training")


def test_published_augmentation_transposes_planes_without_the_green_swap():
    # models/networks.py augment (cszhilu1998/BracketIRE): flip(-1), flip(-2), transpose(-1, -2) on the batch
    raws = torch.rand(3, 5, 4, 6, 6, generator=torch.Generator().manual_seed(0))
    gt = torch.rand(3, 4, 6, 6, generator=torch.Generator().manual_seed(1))
    out_raws, out_gt = augment_published(raws, gt, np.array([1, 0, 1]))
    assert torch.equal(out_raws, raws.flip(-1).transpose(-1, -2))  # plane order kept: Gr stays in plane 1
    assert torch.equal(out_gt, gt.flip(-1).transpose(-1, -2))
    bayer_mode, _ = _augment(raws[0], gt[0], np.array([1, 0, 1]))
    assert not torch.equal(out_raws[0], bayer_mode) and torch.equal(out_raws[0][:, [0, 2, 1, 3]], bayer_mode)
    assert torch.equal(augment_published(raws, gt, np.array([0, 0, 0]))[0], raws)


def test_published_augmentation_draws_once_per_step_from_seed_and_step():
    draws = np.array([published_batch_flips(5, step) for step in range(400)])
    assert np.array_equal(draws, np.array([published_batch_flips(5, step) for step in range(400)]))
    assert set(np.unique(draws)) == {0, 1}
    assert np.all(np.abs(draws.mean(axis=0) - 0.5) < 0.1)  # each operation with probability 1/2
    assert not np.array_equal(draws, np.array([published_batch_flips(6, step) for step in range(400)]))


def test_augment_mode_is_a_checked_data_setting():
    from models.train_config import DataSection, load_run_config

    assert DataSection().augment == "bayer" and AUGMENT_MODES == ("bayer", "published", "none")
    with pytest.raises(BracketIREError, match="data.augment='flip'"):
        load_run_config(overrides=["data.augment=flip"])
