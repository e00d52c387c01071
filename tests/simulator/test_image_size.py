"""Source images are sized from their headers and refused before decoding when too large (issue 12, bounds)."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import OpenEXR
import pytest

from simulator import image_size, sources
from simulator.core.errors import DataError
from simulator.image_size import check_source_pixels, header_size

H, W = 37, 53  # odd and unequal, so that height and width cannot be swapped unnoticed


def _image(dtype=np.uint8):
    values = np.random.default_rng(0).integers(0, 200, (H, W, 3))
    return values.astype(dtype)


def _write_exr(path, rgb):
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    with OpenEXR.File(header, {"RGB": rgb.astype(np.float32)}) as exr:
        exr.write(str(path))
    return path


@pytest.mark.parametrize("name", ["a.png", "a16.png", "a.jpg", "progressive.jpeg", "a.pfm", "a.npy", "a.exr"])
def test_header_size_equals_the_decoded_size(tmp_path, name):
    path = tmp_path / name
    if name == "a16.png":
        cv2.imwrite(str(path), _image(np.uint16) * 300)
    elif name == "progressive.jpeg":
        cv2.imwrite(str(path), _image(), [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])  # SOF2, not SOF0
    elif name.endswith(".npy"):
        np.save(path, _image(np.float32))
    elif name.endswith(".exr"):
        _write_exr(path, _image(np.float32))
    else:
        cv2.imwrite(str(path), _image(np.float32) if name.endswith(".pfm") else _image())
    decoded = sources.read_hdr_image(path) if name.endswith((".pfm", ".npy", ".exr")) else sources.read_ldr_image(path)
    assert header_size(path) == (H, W) == tuple(decoded.shape[1:])


def test_unknown_or_unrecognised_headers_are_left_to_the_decoder(tmp_path):
    (tmp_path / "a.hdr").write_bytes(b"#?RADIANCE\n")
    (tmp_path / "junk.png").write_bytes(b"not a png at all")
    (tmp_path / "junk.jpg").write_bytes(b"\xff\xd8\x00garbage")
    assert [header_size(tmp_path / n) for n in ("a.hdr", "junk.png", "junk.jpg")] == [None, None, None]
    with pytest.raises(DataError, match="junk.png: unreadable image"):
        sources.read_ldr_image(tmp_path / "junk.png")


def _no_decoding(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the image was decoded before its header was checked")

    monkeypatch.setattr(sources.cv2, "imread", refuse)
    monkeypatch.setattr(sources, "_read_exr", refuse)
    monkeypatch.setattr(sources.np, "load", refuse)


def test_a_small_png_declaring_60000x50000_pixels_is_refused_before_decoding(tmp_path, monkeypatch):
    data = bytearray(cv2.imencode(".png", _image())[1].tobytes())
    data[16:24] = struct.pack(">II", 60000, 50000)  # IHDR width, height (the CRC no longer matches: never decoded)
    path = tmp_path / "huge.png"
    path.write_bytes(bytes(data))
    _no_decoding(monkeypatch)
    with pytest.raises(DataError, match=r"huge\.png: header declares 60000x50000 pixels \(3000000000\); at most "
                                         r"100000000 pixels"):
        sources.read_ldr_image(path)


def test_a_jpeg_declaring_65000x65000_pixels_is_refused_before_decoding(tmp_path, monkeypatch):
    data = bytearray(cv2.imencode(".jpg", _image())[1].tobytes())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)  # height, width
    path = tmp_path / "huge.jpg"
    path.write_bytes(bytes(data))
    _no_decoding(monkeypatch)
    with pytest.raises(DataError, match=r"huge\.jpg: header declares 65000x65000"):
        sources.read_ldr_image(path)


@pytest.mark.parametrize("name", ["a.exr", "a.npy", "a.pfm"])
def test_hdr_sources_are_bounded_from_their_headers(tmp_path, monkeypatch, name):
    path = tmp_path / name
    if name == "a.exr":
        _write_exr(path, _image(np.float32))
    elif name == "a.npy":
        np.save(path, _image(np.float32))
    else:
        cv2.imwrite(str(path), _image(np.float32))
    monkeypatch.setattr(image_size, "MAX_SOURCE_PIXELS", H * W - 1)
    _no_decoding(monkeypatch)
    with pytest.raises(DataError, match=rf"{name}: header declares {W}x{H} pixels \({H * W}\); at most {H * W - 1}"):
        sources.read_hdr_image(path)
    check_source_pixels(path, max_pixels=H * W)  # exactly at the limit passes
