"""Flow pairs from the simulator (simulator/flowpairs.py): deterministic, and the flow explains the motion."""

import torch
import torch.nn.functional as F

from simulator import flowpairs
from simulator.flowpairs import flow_pair

# the sampling convention of models.layers.flow.flow_warp, written out (the simulator tests import no models)


def _warp(image, flow):
    _, height, width = image.shape
    ys, xs = torch.meshgrid(torch.arange(height, dtype=torch.float32), torch.arange(width, dtype=torch.float32),
                            indexing="ij")
    grid = torch.stack([2 * (xs + flow[0]) / (width - 1) - 1, 2 * (ys + flow[1]) / (height - 1) - 1], -1)[None]
    return F.grid_sample(image[None], grid, mode="bilinear", padding_mode="zeros", align_corners=True)[0]


def test_a_pair_is_a_pure_function_of_index_and_seed():
    a, b, c = flow_pair(3, 1, 40, 48), flow_pair(3, 1, 40, 48), flow_pair(4, 1, 40, 48)
    assert a.ref.shape == a.supp.shape == (4, 40, 48) and a.flow.shape == (2, 40, 48) and a.valid.shape == (1, 40, 48)
    assert torch.equal(a.ref, b.ref) and torch.equal(a.supp, b.supp) and torch.equal(a.flow, b.flow)
    assert not torch.equal(a.flow, c.flow)
    assert 1 <= a.frame <= 4 and set(a.valid.unique().tolist()) <= {0.0, 1.0}


def test_warping_the_supporting_frame_by_the_flow_gives_the_reference():
    """On visible, unclipped pixels the warped frame matches the reference far better than no motion does
    (not exactly: both frames are bilinear resamplings of the scene, so edges blur by a fraction of a pixel)."""
    ratios = []
    for index in range(6):
        pair = flow_pair(index, 0, 64, 64, max_shift=8.0, noise=False)
        clip = 4.0 ** -pair.frame  # the supporting frame clips there, once normalised
        ref, warped = pair.ref.clamp(max=clip), _warp(pair.supp, pair.flow).clamp(max=clip)
        keep = (pair.valid[0] > 0) & (pair.flow.norm(dim=0) > 0.5)
        keep[:2], keep[-2:], keep[:, :2], keep[:, -2:] = False, False, False, False
        if keep.sum() < 100:
            continue
        moved = (warped - ref).abs().sum(0)[keep].mean()
        still = (pair.supp.clamp(max=clip) - ref).abs().sum(0)[keep].mean()
        ratios.append(float(moved / still))
    assert len(ratios) >= 3
    assert max(ratios) < 0.7 and sorted(ratios)[len(ratios) // 2] < 0.6, ratios


def test_a_whole_pixel_camera_shift_is_undone_exactly(monkeypatch):
    """Camera motion alone by whole pixels: the flow is that shift and warping reproduces the reference to rounding."""
    monkeypatch.setattr(flowpairs, "_camera", lambda generator, max_shift: (3.0, -2.0, 0.0, 1.0))
    pair = flowpairs.flow_pair(1, 0, 48, 48, max_layer_shift=0.0, noise=False)
    assert torch.allclose(pair.flow[0], torch.tensor(-3.0)) and torch.allclose(pair.flow[1], torch.tensor(2.0))
    clip = 4.0 ** -pair.frame
    inner = (slice(None), slice(3, -3), slice(4, -4))
    warped = _warp(pair.supp, pair.flow).clamp(max=clip)
    assert torch.allclose(warped[inner], pair.ref.clamp(max=clip)[inner], atol=1e-6)


def test_noise_is_that_of_the_bracket_frame():
    """Frame 0 normalised to the unit frame (x16) is much noisier than its noise-free twin; flow is unchanged."""
    noisy, clean = flow_pair(2, 5, 48, 48), flow_pair(2, 5, 48, 48, noise=False)
    assert torch.equal(noisy.flow, clean.flow)
    assert (noisy.ref - clean.ref).std() > 1e-3
    assert (noisy.ref * 4.0 ** -2 * 1023 - (noisy.ref * 4.0 ** -2 * 1023).round()).abs().max() < 1e-3  # 10-bit DN
