"""Time the camera model on one image: inverse ISP, and forward ISP with each demosaicer.

    python perf/isp.py            # 1920x1080, best of 3 runs
    python perf/isp.py --quick    # 256x256, one run (what the tests call)

Prints one line per stage: milliseconds (best of the repeats) and megapixels per second.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.camera import sample_camera  # noqa: E402
from simulator.demosaic import DEMOSAICERS  # noqa: E402
from simulator.isp import process, unprocess  # noqa: E402


def best_time(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls after one warm-up, in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small image, one run")
    parser.add_argument("--size", default="1920x1080", help="WxH of the full-resolution image")
    parser.add_argument("--repeats", type=int, default=3)
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
