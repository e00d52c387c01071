import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.color import apply_ccm, linear_to_srgb, mu_law, srgb_to_linear
from tests.helpers import max_abs


def test_srgb_curves_match_reference_fixture(official):
    f = official("unprocess.npz")  # gamma_x / gamma_y / gamma_reverse_y; tolerance 1e-6
    x = torch.from_numpy(f["gamma_x"])
    assert max_abs(linear_to_srgb(x).numpy(), f["gamma_y"]) <= 1e-6
    assert max_abs(srgb_to_linear(x).numpy(), f["gamma_reverse_y"]) <= 1e-6


def test_mu_law_matches_reference_fixture(official):
    f = official("unprocess.npz")  # mu_x / mu_y (float32) and mu_y_numpy_f64; tolerance 1e-6
    x = torch.from_numpy(f["mu_x"])
    assert max_abs(mu_law(x).numpy(), f["mu_y"]) <= 1e-6
    assert max_abs(mu_law(x).numpy(), f["mu_y_float_mu"]) <= 1e-6
    assert max_abs(mu_law(x.double()).numpy(), f["mu_y_numpy_f64"]) <= 1e-12


def test_srgb_threshold_takes_linear_branch_as_reference():
    at = torch.tensor([0.04045], dtype=torch.float32)
    assert srgb_to_linear(at).item() == (at / 12.92).item()
    assert linear_to_srgb(torch.tensor([-0.5])).item() == torch.tensor(-0.5 * 12.92).item()


@settings(max_examples=200, deadline=None)
@given(st.floats(min_value=0.0, max_value=1.0))
def test_srgb_round_trip(value):
    x = torch.tensor([value], dtype=torch.float64)
    assert abs(srgb_to_linear(linear_to_srgb(x)).item() - value) <= 1e-12


def test_mu_law_end_points():
    assert mu_law(torch.tensor(0.0)).item() == 0.0
    assert math.isclose(mu_law(torch.tensor(1.0, dtype=torch.float64)).item(), 1.0, rel_tol=1e-15)


def test_apply_ccm_is_matrix_times_pixel_and_broadcasts_over_batch():
    gen = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 5, 7, generator=gen, dtype=torch.float64)
    ccm = torch.rand(2, 3, 3, generator=gen, dtype=torch.float64)
    expected = np.einsum("bij,bjhw->bihw", ccm.numpy(), image.numpy())
    assert max_abs(apply_ccm(image, ccm).numpy(), expected) <= 1e-12
    shared = apply_ccm(image, ccm[0])  # one matrix for the whole batch
    assert max_abs(shared[1].numpy(), np.einsum("ij,jhw->ihw", ccm[0].numpy(), image[1].numpy())) <= 1e-12
