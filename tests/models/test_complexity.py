"""MAC counts on the meta device, checked against the model cards (shared/model_cards.md, section 2)."""

import pytest
import torch

from models import list_models
from models.complexity import count_macs, model_complexity


@pytest.mark.parametrize("name, gmacs", [("tmrnet", 337.4), ("tmrnet_plus", 89.8)])
def test_tmrnet_macs_equal_the_model_card(name, gmacs):
    # card: TMRNet 337.4 GMACs at 5x4x128^2, TMRNet+ 89.8 at 5x4x64^2 (FlopCounterMode total / 2)
    assert round(model_complexity(name)["gmacs"], 1) == gmacs


def test_meta_count_equals_a_real_count():
    conv = torch.nn.Conv2d(4, 8, 3, padding=1)
    macs = count_macs(torch.nn.Sequential(torch.nn.Flatten(0, 1), conv), (1, 5, 4, 16, 16))
    assert macs == 5 * 16 * 16 * 8 * 4 * 9


def test_every_learned_model_has_a_count_and_flops_are_twice_macs():
    for name in list_models():
        c = model_complexity(name)
        if name == "merge":  # phase correlation: data-dependent, not countable on meta
            assert c["gmacs"] is None
            continue
        assert c["gflops"] == pytest.approx(2 * c["gmacs"])
        assert (c["gmacs"] > 0) == (c["params_m"] > 0)
