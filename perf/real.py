"""Time the real-bracket path: reading a DNG bracket through rawpy, and the published real-world rendering.

    python perf/real.py            # 1920x1080 frames, best of 2 runs
    python perf/real.py --quick    # 192x128, one run (what the tests call)

Writes a 5-frame DNG bracket to a temporary folder (tests/dng.py, needs tifffile), then prints one line per
step: seconds (best of the repeats) and megapixels per second. ``render tiled`` runs DemosaicNet by tiles of
``--tile`` pixels (bounded memory, same result).
"""

from __future__ import annotations

import sys
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import best_time, size_parser  # noqa: E402  (perf/ is the script folder)

from simulator.real import iter_raw_brackets, render_real  # noqa: E402
from tests.dng import write_dng  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = size_parser(__doc__.splitlines()[0], 2, "each full-resolution frame")
    parser.add_argument("--tile", type=int, default=512, help="DemosaicNet tile size for 'render tiled'")
    args = parser.parse_args(argv)
    width, height = (192, 128) if args.quick else map(int, args.size.lower().split("x"))
    repeats = 1 if args.quick else args.repeats
    tile = 64 if args.quick else args.tile
    rng = np.random.default_rng(0)
    scene = 0.05 + 0.2 * rng.random((height, width))
    with tempfile.TemporaryDirectory() as folder:
        for k in range(5):
            mosaic = np.clip(np.round(scene * 4**k * 959) + 64, 0, 1023).astype(np.uint16)
            write_dng(Path(folder) / f"f{k}.dng", mosaic, cfa="GRBG", exposure_time=Fraction(4**k, 400))
        (bracket,) = iter_raw_brackets(Path(folder))
        megapixels = width * height / 1e6
        print(f"real brackets on 5 x {width}x{height}, {torch.get_num_threads()} thread(s), best of {repeats}")
        rows = [
            ("read bracket", 5 * megapixels, lambda: list(iter_raw_brackets(Path(folder)))),
            ("render", megapixels, lambda: render_real(bracket.raws[2] * 16, bracket.render_info)),
            (f"render tiled {tile}", megapixels,
             lambda: render_real(bracket.raws[2] * 16, bracket.render_info, tile=tile)),
        ]
        for label, size, fn in rows:
            seconds = best_time(fn, repeats)
            print(f"{label:<22} {seconds:9.2f} s  {size / seconds:8.2f} MP/s")


if __name__ == "__main__":
    main()
