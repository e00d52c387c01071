"""Time the camera model on one image: inverse ISP, and forward ISP with each demosaicer.

    python perf/isp.py            # 1920x1080, best of 3 runs
    python perf/isp.py --quick    # 256x256, one run (what the tests call)

Prints one line per stage: milliseconds (best of the repeats) and megapixels per second.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import best_time, size_parser  # noqa: E402  (perf/ is the script folder)

from simulator.camera import sample_camera  # noqa: E402
from simulator.demosaic import DEMOSAICERS  # noqa: E402
from simulator.isp import process, unprocess  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = size_parser(__doc__.splitlines()[0], 3, "the full-resolution image")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    width, height = (256, 256) if args.quick else map(int, args.size.lower().split("x"))
    repeats = 1 if args.quick else args.repeats
    torch.set_num_threads(args.threads)

    meta = sample_camera("bracketire", torch.Generator().manual_seed(0))
    rgb = torch.rand(3, height, width, generator=torch.Generator().manual_seed(1))
    raw = unprocess(rgb, meta)
    megapixels = width * height / 1e6
    print(f"camera model on {width}x{height}, {args.threads} thread(s), torch {torch.__version__}, best of {repeats}")
    rows = [("unprocess", lambda: unprocess(rgb, meta))]
    rows += [(f"process[{name}]", lambda name=name: process(raw, meta, name)) for name in DEMOSAICERS.names()]
    for label, fn in rows:
        seconds = best_time(fn, repeats)
        print(f"{label:<22} {seconds * 1e3:9.1f} ms  {megapixels / seconds:8.1f} MP/s")


if __name__ == "__main__":
    main()
