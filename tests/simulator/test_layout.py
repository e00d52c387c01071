import json

import numpy as np
import pytest
import torch

from simulator.camera import sample_camera
from simulator.core.errors import DataError
from simulator.core.safe_npy import load_legacy_dict
from simulator.layout import list_frames, read_frame, write_frame

EXPOSURES = (1, 4, 16, 64, 256)


def test_reads_the_genuine_published_sample(shared):
    frame = read_frame(shared / "fixtures" / "published_sample" / "000936")
    assert frame.raws.shape == (5, 4, 540, 960) and frame.raws.dtype == torch.int32
    assert frame.exposures == EXPOSURES and frame.gt is None
    assert frame.alignratio == pytest.approx(47.136616)
    # README of the sample: mean values 7.9, 21.3, 57.4, 160.7, 295.7 DN; 41 % zeros in the shortest frame
    means = frame.raws.float().mean(dim=(1, 2, 3))
    assert np.allclose(means.numpy(), [7.9, 21.3, 57.4, 160.7, 295.7], atol=0.05)
    assert (frame.raws[0] == 0).float().mean().item() == pytest.approx(0.41, abs=0.01)
    assert int(frame.raws.max()) <= 1023


def _sample(scale: int = 1):
    gen = torch.Generator().manual_seed(0)
    raws = {scale: torch.randint(0, 1024, (5, 4, 6, 8), generator=gen)}
    if scale == 4:
        raws[2] = torch.randint(0, 1024, (5, 4, 12, 16), generator=gen)
    gt = torch.rand(4, 6 * scale, 8 * scale, generator=gen) * 16
    return raws, gt, sample_camera("bracketire", gen)


@pytest.mark.parametrize("scale", [1, 4])
def test_write_then_read_round_trip_in_the_published_form(tmp_path, scale):
    raws, gt, meta = _sample(scale)
    folder = write_frame(tmp_path / "Test" / "scene_a" / "000001", raws, EXPOSURES, gt, meta, 12.5, {"seed": 3})
    on_disk = np.load(folder / ("raw_16.npy" if scale == 1 else "x4/raw_16.npy"))
    assert on_disk.dtype == np.uint16 and on_disk.shape == (6, 8, 4)  # channels last, as published
    assert np.load(folder / "raw_gt.npy").shape == (6 * scale, 8 * scale, 4)
    assert load_legacy_dict(folder / "metadata.npy")["red_gain"].shape == (1,)
    assert json.loads((folder / "sample.json").read_text()) == {"seed": 3}
    back = read_frame(folder, scale=scale)
    assert torch.equal(back.raws, raws[scale].to(torch.int32)) and torch.equal(back.gt, gt)
    assert back.meta.red_gain == meta.red_gain and back.alignratio == 12.5
    if scale == 4:
        assert torch.equal(read_frame(folder, scale=2).raws, raws[2].to(torch.int32))
    assert list_frames(tmp_path) == [("scene_a", "000001", folder)]


def test_writing_is_atomic_and_never_overwrites(tmp_path):
    raws, gt, meta = _sample()
    target = tmp_path / "s" / "f"
    with pytest.raises(DataError, match="3 frames for 5 exposures"):
        write_frame(target, {1: raws[1][:3]}, EXPOSURES, gt, meta, 1.0)
    assert list((tmp_path / "s").iterdir()) == []  # no partial sample left behind
    write_frame(target, raws, EXPOSURES, gt, meta, 1.0)
    with pytest.raises(DataError, match="already exists"):
        write_frame(target, raws, EXPOSURES, gt, meta, 1.0)


def test_bad_files_are_named(tmp_path):
    raws, gt, meta = _sample()
    folder = write_frame(tmp_path / "s" / "f", raws, EXPOSURES, gt, meta, 1.0)
    np.save(folder / "raw_4.npy", np.zeros((6, 8, 3), np.uint16))
    with pytest.raises(DataError, match=r"raw_4.npy: has shape \(6, 8, 3\); expected \(H, W, 4\)"):
        read_frame(folder)
    np.save(folder / "raw_4.npy", np.zeros((6, 8, 4), np.float32))
    with pytest.raises(DataError, match="raw_4.npy: has dtype float32; expected uint16"):
        read_frame(folder)
    with pytest.raises(DataError, match="x4: no raw_<exposure>.npy inputs"):
        read_frame(folder, scale=4)
