"""Time our PSNR + SSIM against scikit-image's SSIM on one 16-bit RGB pair (the DESIGN.md goal: >= 10x).

    python perf/metrics.py            # 1920x1080, best of 5 runs
    python perf/metrics.py --quick    # 256x256, one run (what the tests call)

The pair is seeded random: ``gt`` uniform in [0, 65535], ``out = gt + N(0, 3000)`` clipped. Prints the time
of each (best of the repeats), the speed-up (skimage SSIM / our PSNR+SSIM) and the largest difference
between our SSIM and skimage's over that pair and an unrelated pair.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import skimage
import torch
from skimage.metrics import structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmark.metrics import psnr, ssim  # noqa: E402


def best_time(fn: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls after one warm-up, in seconds."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def skimage_ssim(out: np.ndarray, gt: np.ndarray) -> float:
    """The call of the published ``syn_metrics.py``."""
    return structural_similarity(out, gt, win_size=11, data_range=65535.0, channel_axis=2, gaussian_weights=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small image, one run")
    parser.add_argument("--size", default="1920x1080", help="WxH of the image pair")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    width, height = (256, 256) if args.quick else map(int, args.size.lower().split("x"))
    repeats = 1 if args.quick else args.repeats
    torch.set_num_threads(args.threads)

    rng = np.random.default_rng(0)
    gt = rng.integers(0, 65536, (height, width, 3), dtype=np.uint16)
    out = np.clip(gt + rng.normal(0, 3000, gt.shape).round(), 0, 65535).astype(np.uint16)
    unrelated = rng.integers(0, 65536, gt.shape, dtype=np.uint16)

    print(f"metrics on a {width}x{height} uint16 RGB pair, {args.threads} thread(s), torch {torch.__version__}, "
          f"scikit-image {skimage.__version__}, best of {repeats}")
    t_psnr = best_time(lambda: psnr(out, gt), repeats)
    t_ssim = best_time(lambda: ssim(out, gt), repeats)
    t_both = best_time(lambda: (psnr(out, gt), ssim(out, gt)), repeats)
    t_skimage = best_time(lambda: skimage_ssim(out, gt), repeats)
    for label, seconds in (("psnr (ours)", t_psnr), ("ssim (ours)", t_ssim), ("psnr+ssim (ours)", t_both),
                           ("ssim (skimage)", t_skimage)):
        print(f"{label:<22} {seconds * 1e3:9.1f} ms")
    print(f"{'speed-up':<22} {t_skimage / t_both:9.1f} x  (skimage ssim / our psnr+ssim)")
    difference = max(abs(ssim(a, gt) - skimage_ssim(a, gt)) for a in (out, unrelated))
    print(f"{'max |ssim - skimage|':<22} {difference:9.1e}")


if __name__ == "__main__":
    main()
