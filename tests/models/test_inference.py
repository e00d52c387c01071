import pytest
import torch
from torch import nn

from models import model_spec
from models.inference import tile_for_budget, tiled_forward


class _LocalNet(nn.Module):
    """A burst model with a known receptive field: 4 stacked 3x3 convs (radius 4)."""

    scale = 1

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(*[nn.Conv2d(20 if i == 0 else 8, 8, 3, padding=1) for i in range(3)],
                                  nn.Conv2d(8, 4, 3, padding=1))

    def forward(self, raws: torch.Tensor) -> torch.Tensor:
        return self.body(raws.flatten(1, 2))


def test_tiles_equal_the_untiled_forward_when_the_overlap_covers_the_receptive_field():
    model = _LocalNet().double()
    raws = torch.rand(2, 5, 4, 45, 61, dtype=torch.float64)
    whole = model(raws)
    tiled = tiled_forward(model, raws, tile=16, overlap=4)
    assert torch.allclose(tiled.double(), whole, atol=1e-6)
    assert not torch.allclose(tiled_forward(model, raws, tile=16, overlap=1).double(), whole, atol=1e-3)


def test_tmrnet_tile_covering_the_image_is_the_untiled_forward_and_tiles_stay_close():
    model = model_spec("tmrnet").build_tiny().eval()
    with torch.no_grad():
        model.learn_para.fill_(0.5)
    raws = torch.rand(1, 5, 4, 48, 64)
    with torch.no_grad():
        whole = model(raws)
    assert torch.allclose(tiled_forward(model, raws, tile=64), whole, atol=1e-4)
    tiled = tiled_forward(model, raws, tile=32, overlap=16)
    assert tiled.shape == whole.shape and (tiled - whole).abs().mean() < 0.05 * whole.abs().mean()


def test_plus_model_is_stitched_at_four_times_the_size():
    model = model_spec("tmrnet_plus").build_tiny().eval()
    raws = torch.rand(1, 5, 4, 40, 40)
    assert tiled_forward(model, raws, tile=24, overlap=8).shape == (1, 4, 160, 160)


def test_budget_gives_larger_tiles_for_more_memory():
    assert tile_for_budget(1.0) < tile_for_budget(8.0)
    assert tile_for_budget(1.0) % 8 == 0


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_tiles_match_cpu():
    model = model_spec("tmrnet").build_tiny().eval()
    raws = torch.rand(1, 5, 4, 48, 64)
    cpu = tiled_forward(model, raws, tile=32, overlap=16)
    torch.backends.cudnn.allow_tf32 = False
    gpu = tiled_forward(model.cuda(), raws, tile=32, overlap=16)
    assert torch.allclose(cpu, gpu, atol=1e-4)


@pytest.mark.parametrize("overlap", [0, 16, 32])
@pytest.mark.parametrize("memory_gb", [0.25, 1.0, 8.0])
def test_budget_counts_the_overlap_and_is_the_largest_that_fits(memory_gb, overlap):
    from models.inference import forward_bytes

    for channels in (8, 16, 64):
        tile = tile_for_budget(memory_gb, channels, 5, overlap)
        assert tile % 8 == 0
        assert forward_bytes((tile + 2 * overlap) ** 2, channels, 5) <= memory_gb * 2**30  # what is run fits
        assert forward_bytes((tile + 8 + 2 * overlap) ** 2, channels, 5) > memory_gb * 2**30  # no larger core would


def test_the_law_has_a_term_that_does_not_scale_with_channels():
    from models.inference import forward_bytes

    # perf/tiled_memory.py measured TMRNet at 96x96 packed, 5 frames: 115 MiB above the model at 8 channels,
    # 127 at 16, 221 at 64 (CPU). The law must not plan less than any of them, nor scale 8x from 8 to 64 channels.
    for channels, measured_mib in ((8, 115), (16, 127), (64, 221)):
        assert forward_bytes(96 * 96, channels, 5) >= measured_mib * 2**20
    assert forward_bytes(96 * 96, 64, 5) < 3 * forward_bytes(96 * 96, 8, 5)


def test_a_budget_too_small_for_the_overlap_is_a_clear_error():
    from simulator.core.errors import ConfigError

    with pytest.raises(ConfigError, match="--memory-gb 0.01: too small .* 32 pixels of overlap"):
        tile_for_budget(0.01, 64, 5, overlap=32)
    with pytest.raises(ConfigError, match="positive"):
        tile_for_budget(float("nan"))


def test_tiled_forward_picks_its_tile_from_the_budget_with_the_overlap(monkeypatch):
    import models.inference as inference

    model, seen = _LocalNet(), []
    real_run = inference._run
    monkeypatch.setattr(inference, "_run", lambda m, r, *rest: seen.append(tuple(r.shape[-2:])) or real_run(m, r, *rest))
    raws = torch.rand(1, 5, 4, 200, 200)
    budget = inference.forward_bytes((40 + 2 * 16) ** 2, 64, 5) / 2**30  # a 40-pixel core exactly
    tiled_forward(model, raws, tile=None, memory_gb=budget, overlap=16)
    assert max(h * w for h, w in seen) == 72 * 72  # the largest tile run is core + 2 x overlap, within budget
