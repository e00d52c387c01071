import cv2
import numpy as np
import OpenEXR
import pytest
import torch

from simulator.core.errors import DataError
from simulator.sources import alexa_wide_gamut_to_srgb, builtin_scene, read_hdr_image, read_ldr_image


def test_builtin_scene_is_hdr_and_deterministic():
    a = builtin_scene(120, 200, torch.Generator().manual_seed(4))
    b = builtin_scene(120, 200, torch.Generator().manual_seed(4))
    c = builtin_scene(120, 200, torch.Generator().manual_seed(5))
    assert a.shape == (3, 120, 200) and a.dtype == torch.float32
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.min() >= 0
    median = a.median().item()
    assert a.max().item() > 150 * median  # light sources hundreds of times brighter than the background
    assert (a.mean(0) < 0.05 * median).float().mean() > 0.01  # a deep-shadow region


@pytest.mark.parametrize("suffix", [".exr", ".hdr", ".pfm", ".npy"])
def test_hdr_formats_read_as_linear_rgb(tmp_path, suffix):
    rgb = np.random.default_rng(0).uniform(0, 50, (20, 24, 3)).astype(np.float32)
    rgb[0, 0] = [1.0, 2.0, 3.0]  # channel order check
    path = tmp_path / f"scene{suffix}"
    if suffix == ".exr":
        OpenEXR.File({"type": OpenEXR.scanlineimage}, {"RGB": rgb}).write(str(path))
    elif suffix == ".npy":
        np.save(path, rgb)
    else:
        cv2.imwrite(str(path), rgb[..., ::-1])
    out = read_hdr_image(path)
    assert out.shape == (3, 20, 24)
    # Radiance RGBE shares one exponent: each channel is exact to 1/128 of the pixel's largest channel
    atol = rgb.max(axis=-1, keepdims=True) / 128 if suffix == ".hdr" else 0.0
    assert (np.abs(out.permute(1, 2, 0).numpy() - rgb) <= atol).all()
    assert out[:, 0, 0].argmax() == 2


@pytest.mark.parametrize(
    "array,message",
    [
        (np.full((20, 20, 3), np.nan, np.float32), "NaN or infinite"),
        (np.full((20, 20, 3), -1, np.float32), "negative values"),
        (np.zeros((8, 20, 3), np.float32), "at least 16 px"),
        (np.zeros((20, 20, 4), np.float32), r"expected \(H, W, 3\)"),
    ],
)
def test_bad_hdr_files_are_named(tmp_path, array, message):
    path = tmp_path / "bad.npy"
    np.save(path, array)
    with pytest.raises(DataError, match=rf"bad.npy: .*{message}"):
        read_hdr_image(path)
    (tmp_path / "x.exr").write_bytes(b"not an exr")
    with pytest.raises(DataError, match="x.exr: unreadable"):
        read_hdr_image(tmp_path / "x.exr")


def test_ldr_photo_is_linearised_and_highlights_are_boosted(tmp_path):
    image = np.full((20, 20, 3), 128, np.uint8)
    image[:5] = 255
    cv2.imwrite(str(tmp_path / "p.png"), image)
    plain = read_ldr_image(tmp_path / "p.png")
    assert plain[0, 10, 10].item() == pytest.approx(((128 / 255 + 0.055) / 1.055) ** 2.4, rel=1e-5)
    boosted = read_ldr_image(tmp_path / "p.png", highlight_gain=8.0)
    assert boosted[0, 0, 0].item() == pytest.approx(8.0, rel=1e-5)
    assert torch.equal(boosted[:, 10:], plain[:, 10:])


def test_alexa_conversion_scales_and_keeps_grey():
    grey = torch.ones(3, 2, 2) * 16
    out = alexa_wide_gamut_to_srgb(grey)
    assert torch.allclose(out, torch.ones(3, 2, 2), atol=1e-3)  # white point shared (D65), scale 2^-4
