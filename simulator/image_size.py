"""Image dimensions read from a file's header, so that a huge source image is refused before it is decoded.

A 40 kB PNG or JPEG can declare 60000 x 60000 pixels; decoding it would take tens of GB. The readers of
:mod:`simulator.sources` call :func:`check_source_pixels` first, which reads only the header:

* PNG: the IHDR chunk (first 24 bytes);
* JPEG: the first start-of-frame (SOFn) segment, skipping the segments before it by their lengths;
* OpenEXR: the data window, through ``OpenEXR.File(..., header_only=True)``;
* ``.npy``: the array header (shape), through :mod:`numpy.lib.format`;
* PFM: the ``PF``/``Pf`` line and the ``width height`` line.

Other formats (Radiance ``.hdr``, TIFF) are decoded without this check.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from simulator.core.errors import DataError

MAX_SOURCE_PIXELS = 100_000_000  # 100 megapixels: 1.2 GB as float32 RGB, beyond any camera or HDR source used
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_SOF_MARKERS = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_SEARCH = 16 << 20  # bytes of segments (EXIF, ICC, thumbnails) searched before the frame header


def header_size(path: str | Path) -> tuple[int, int] | None:
    """``(height, width)`` declared by an image file's header, without decoding any pixel.

    Returns:
        None for a format not read here (see the module notes) or a file whose header is not recognised (the
        decoder then reports it as unreadable).

    Raises:
        DataError: naming the file, when it cannot be opened.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    try:
        if suffix == ".exr":
            return _exr_size(path)
        with open(path, "rb") as handle:
            if suffix == ".png":
                return _png_size(handle.read(24))
            if suffix in (".jpg", ".jpeg"):
                return _jpeg_size(handle)
            if suffix == ".npy":
                return _npy_size(handle)
            if suffix == ".pfm":
                return _pfm_size(handle)
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror or err})") from None
    return None


def check_source_pixels(path: str | Path, max_pixels: int | None = None) -> None:
    """Refuse, from its header, a source image with more than ``max_pixels`` pixels.

    ``max_pixels`` is :data:`MAX_SOURCE_PIXELS` when None.

    Raises:
        DataError: naming the file, its declared size and the limit.
    """
    max_pixels = MAX_SOURCE_PIXELS if max_pixels is None else max_pixels
    size = header_size(path)
    if size is not None and size[0] * size[1] > max_pixels:
        raise DataError(f"{path}: header declares {size[1]}x{size[0]} pixels ({size[0] * size[1]}); "
                        f"at most {max_pixels} pixels are decoded")


def _png_size(head: bytes) -> tuple[int, int] | None:
    if len(head) < 24 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", head[16:24])
    return height, width


def _jpeg_size(handle) -> tuple[int, int] | None:  # type: ignore[no-untyped-def]
    if handle.read(2) != b"\xff\xd8":
        return None
    while handle.tell() < _JPEG_SEARCH:
        byte = handle.read(1)
        if byte != b"\xff":
            return None
        marker = handle.read(1)
        while marker == b"\xff":  # fill bytes
            marker = handle.read(1)
        if not marker:
            return None
        code = marker[0]
        if code == 0x01 or 0xD0 <= code <= 0xD9:  # stand-alone markers carry no length
            continue
        length_bytes = handle.read(2)
        if len(length_bytes) < 2:
            return None
        length = struct.unpack(">H", length_bytes)[0]
        if code in _SOF_MARKERS:
            frame = handle.read(5)  # precision, height, width
            if len(frame) < 5:
                return None
            height, width = struct.unpack(">HH", frame[1:5])
            return height, width
        handle.seek(length - 2, 1)
    return None


def _npy_size(handle) -> tuple[int, int] | None:  # type: ignore[no-untyped-def]
    try:
        version = np.lib.format.read_magic(handle)
        reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, _ = reader(handle)
    except ValueError:
        return None
    if len(shape) < 2:
        return None
    return int(shape[0]), int(shape[1])


def _pfm_size(handle) -> tuple[int, int] | None:  # type: ignore[no-untyped-def]
    if handle.readline(8).strip() not in (b"PF", b"Pf"):
        return None
    fields = handle.readline(64).split()
    if len(fields) != 2 or not all(field.isdigit() for field in fields):
        return None
    return int(fields[1]), int(fields[0])


def _exr_size(path: Path) -> tuple[int, int] | None:
    import OpenEXR

    try:
        with OpenEXR.File(str(path), header_only=True) as exr:
            low, high = exr.header()["dataWindow"]
    except Exception:  # noqa: BLE001  (a broken header: the decoder then reports the file as unreadable)
        return None
    return int(high[1]) - int(low[1]) + 1, int(high[0]) - int(low[0]) + 1
