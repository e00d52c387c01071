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
