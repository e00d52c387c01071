"""16-bit RGB PNG input and output, as the BracketIRE test script writes and the metrics read them.

The published PNGs hold RGB on disk: the reference flips its RGB array to BGR before ``cv2.imwrite`` and
reads back with ``cv2.imread(path, -1)[..., ::-1]``. These helpers do the same flips, so arrays in memory
are always ``(H, W, 3)`` uint16 **RGB**.
"""

from __future__ import annotations

import os
import struct
from typing import NamedTuple

import cv2
import numpy as np

from simulator.core.errors import DataError
from simulator.core.files import write_atomic
from simulator.quiet import native_output_silenced, quiet_opencv

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
MAX_PIXELS = 1 << 28  # 268 M pixels (1.5 GiB as uint16 RGB): refuse to decode anything larger
quiet_opencv()


class PngHeader(NamedTuple):
    """What a PNG's IHDR chunk says: size, bits per sample, samples per pixel."""

    height: int
    width: int
    bit_depth: int
    channels: int


_PNG_CHANNELS = {0: 1, 2: 3, 3: 3, 4: 2, 6: 4}  # IHDR colour type -> samples per pixel (3: palette)


def png_header(path: str | os.PathLike[str], label: str | None = None) -> PngHeader:
    """Read a PNG's header without decoding the image.

    Lets sizes and formats of untrusted files be checked (and absurd sizes refused) before any pixel is
    decoded.

    Args:
        path: the file.
        label: how to name the file in messages (e.g. ``"sub.zip: a-1.png"`` for an extracted entry);
            ``path`` when None.

    Raises:
        DataError: naming the file, when it cannot be read or is not a PNG.
    """
    label = str(path) if label is None else label
    try:
        with open(path, "rb") as handle:
            head = handle.read(PNG_HEADER_BYTES)
    except OSError as err:
        raise DataError(f"{label}: cannot be read ({err.strerror or err})") from None
    return parse_png_header(head, label)


PNG_HEADER_BYTES = 26  # what :func:`parse_png_header` needs from the start of a file


def parse_png_header(head: bytes, label: str) -> PngHeader:
    """Parse the first :data:`PNG_HEADER_BYTES` bytes of a PNG (e.g. read from a zip entry, not extracted).

    Raises:
        DataError: naming ``label``, when the bytes are not a PNG signature followed by an IHDR chunk.
    """
    # signature (8), IHDR length (4), b"IHDR" (4), width (4), height (4), bit depth (1), colour type (1)
    if len(head) < 26 or head[:8] != PNG_SIGNATURE or head[12:16] != b"IHDR" or head[25] not in _PNG_CHANNELS:
        raise DataError(f"{label}: not a PNG file; expected a 16-bit RGB PNG")
    width, height = struct.unpack(">II", head[16:24])
    return PngHeader(height, width, head[24], _PNG_CHANNELS[head[25]])


def check_png16(path: str | os.PathLike[str], label: str | None = None, max_pixels: int = MAX_PIXELS) -> PngHeader:
    """Check from its header that a file is a 16-bit RGB PNG of at most ``max_pixels`` pixels.

    Raises:
        DataError: naming the file and what was expected.
    """
    label = str(path) if label is None else label
    return check_png16_header(png_header(path, label), label, max_pixels)


def check_png16_header(header: PngHeader, label: str, max_pixels: int = MAX_PIXELS) -> PngHeader:
    """:func:`check_png16` on a header already read (e.g. from a zip entry through ``ZipFile.open``)."""
    if header.bit_depth != 16:
        raise DataError(f"{label}: {header.bit_depth}-bit PNG; expected 16-bit RGB")
    if header.channels != 3:
        raise DataError(f"{label}: PNG has {header.channels} channel(s); expected 3 (16-bit RGB)")
    if header.height * header.width > max_pixels:
        raise DataError(
            f"{label}: PNG of {header.height}x{header.width} pixels is larger than the limit of {max_pixels} pixels"
        )
    return header


def read_png16(path: str | os.PathLike[str], max_pixels: int = MAX_PIXELS, label: str | None = None) -> np.ndarray:
    """Read a 16-bit RGB PNG.

    Args:
        path: the file.
        max_pixels: refuse (before decoding) images with more pixels than this.
        label: how to name the file in messages; ``path`` when None.

    Returns:
        ``(H, W, 3)`` uint16 RGB, values in [0, 65535], C-contiguous.

    Raises:
        DataError: naming the file, when it is unreadable, not a PNG, too large, not 16-bit or not 3-channel.
    """
    label = str(path) if label is None else label
    header = check_png16(path, label, max_pixels)
    try:
        data = np.fromfile(path, dtype=np.uint8)  # also handles non-ASCII paths, unlike cv2.imread on Windows
    except OSError as err:
        raise DataError(f"{label}: cannot be read ({err.strerror or err})") from None
    with native_output_silenced():  # libpng warnings go to the C stderr
        image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if image is None:
        raise DataError(f"{label}: cannot be decoded as a PNG (corrupt or truncated file)")
    if image.dtype != np.uint16 or image.shape != (header.height, header.width, 3):  # header and data disagree
        raise DataError(f"{label}: decodes to {image.dtype} {image.shape}; expected 16-bit RGB as its header says")
    return np.ascontiguousarray(image[..., ::-1])


def write_png16(path: str | os.PathLike[str], rgb: np.ndarray) -> None:
    """Write ``(H, W, 3)`` uint16 RGB as a 16-bit PNG (RGB on disk), atomically.

    The PNG is encoded in memory, written to a temporary file in the target's folder and renamed over the
    target, so an interrupted write never leaves a half-written file.

    Raises:
        DataError: when ``rgb`` is not ``(H, W, 3)`` uint16, or the file cannot be written.
    """
    if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint16 or rgb.ndim != 3 or rgb.shape[2] != 3:
        shape = getattr(rgb, "shape", None)
        dtype = getattr(rgb, "dtype", type(rgb).__name__)
        raise DataError(f"{path}: image to write has shape {shape} and dtype {dtype}; expected (H, W, 3) uint16")
    ok, encoded = cv2.imencode(".png", np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise DataError(f"{path}: OpenCV could not encode the image as PNG")
    write_bytes_atomic(path, encoded.tobytes())


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    Raises:
        DataError: when the folder does not exist or is not writable.
    """
    write_atomic(path, data)


def crop_border(image: np.ndarray, pixels: int) -> np.ndarray:
    """Exclude ``pixels`` from every side of an ``(H, W, ...)`` image (the protocols' invalid border).

    Args:
        image: ``(H, W)`` or ``(H, W, C)``, any dtype.
        pixels: border width; 0 returns ``image`` itself.

    Returns:
        A view ``image[pixels:H-pixels, pixels:W-pixels]``.

    Raises:
        DataError: when ``pixels`` is negative or leaves nothing of the image.
    """
    if pixels < 0:
        raise DataError(f"crop of {pixels} px: expected a border width >= 0")
    if pixels == 0:
        return image
    height, width = image.shape[:2]
    if 2 * pixels >= min(height, width):
        raise DataError(f"crop of {pixels} px leaves nothing of a {height}x{width} image")
    return image[pixels : height - pixels, pixels : width - pixels]
