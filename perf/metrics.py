"""Time our PSNR + SSIM against scikit-image's SSIM on one 16-bit RGB pair (the DESIGN.md goal: >= 10x).

    python perf/metrics.py            # 1920x1080, best of 5 runs
    python perf/metrics.py --quick    # 256x256, one run (what the tests call)

The pair is seeded random: ``gt`` uniform in [0, 65535], ``out = gt + N(0, 3000)`` clipped. Prints the time
of each (best of the repeats), the speed-up (skimage SSIM / our PSNR+SSIM) and the largest difference
between our SSIM and skimage's over that pair and an unrelated pair.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import skimage
import torch
from skimage.metrics import structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import best_time, size_parser  # noqa: E402  (perf/ is the script folder)

from benchmark.metrics import psnr, ssim  # noqa: E402


def skimage_ssim(out: np.ndarray, gt: np.ndarray) -> float:
    """The call of the published ``syn_metrics.py``."""
    return structural_similarity(out, gt, win_size=11, data_range=65535.0, channel_axis=2, gaussian_weights=True)


def main(argv: list[str] | None = None) -> None:
    parser = size_parser(__doc__.splitlines()[0], 5, "the image pair")
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
