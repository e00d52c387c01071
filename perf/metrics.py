"""Our PSNR + SSIM against scikit-image's SSIM on one 16-bit RGB pair, quiet and under a competing load.

    python perf/metrics.py            # 1920x1080, 3 rounds per condition
    python perf/metrics.py --quick    # 256x256, one round (what the tests call)

The pair is seeded random: ``gt`` uniform in [0, 65535], ``out = gt + N(0, 3000)`` clipped. Three ways of
calling ours: ``ours`` (one call, the default thread budget), ``ours in score's pool`` (the pairs scored
two at a time through ``benchmark.scoring``'s thread pool set-up, wall time per pair). Each round times
ours and scikit-image back to back, so both see the same machine; the figure reported is the median over
rounds of the ratio ``skimage time / our time`` (the DESIGN.md goal: >= 10x). With ``--load N`` (default:
one per CPU) the script itself starts N busy-looping processes for the "busy" condition and stops them.
The machine's load average is printed with each condition; the last line is the largest difference
between our SSIM and scikit-image's.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import skimage
import torch
from skimage.metrics import structural_similarity

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import load_line, size_parser  # noqa: E402  (perf/ is the script folder)

from benchmark import scoring  # noqa: E402
from benchmark.metrics import psnr, ssim  # noqa: E402


def skimage_ssim(out: np.ndarray, gt: np.ndarray) -> float:
    """The call of the published ``syn_metrics.py``."""
    return structural_similarity(out, gt, win_size=11, data_range=65535.0, channel_axis=2, gaussian_weights=True)


def seconds(fn: object) -> float:
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - start


def in_pool(pairs: list[tuple[np.ndarray, np.ndarray]], workers: int = 2) -> float:
    """Wall seconds per pair when ``workers`` threads score the pairs as ``score`` does."""
    share = max(1, (os.cpu_count() or 1) // workers)
    start = time.perf_counter()
    with ThreadPoolExecutor(workers, initializer=getattr(scoring, "_limit_threads", None) or (lambda _: None),
                            initargs=(share,)) as pool:
        list(pool.map(lambda pair: (psnr(*pair), ssim(*pair)), pairs))
    return (time.perf_counter() - start) / len(pairs)


def start_load(count: int) -> list[subprocess.Popen[bytes]]:
    """``count`` processes that spin a CPU each until stopped."""
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def stop_load(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait()


def rounds(out: np.ndarray, gt: np.ndarray, pairs: list[tuple[np.ndarray, np.ndarray]], count: int) -> dict[str, float]:
    """Median ratios (skimage / ours) and median seconds over ``count`` back-to-back rounds."""
    rows = []
    for _ in range(count):
        ours = seconds(lambda: (psnr(out, gt), ssim(out, gt)))
        reference = seconds(lambda: skimage_ssim(out, gt))
        pooled = in_pool(pairs)
        rows.append((ours, reference, pooled))
    ours, reference, pooled = (statistics.median(column) for column in zip(*rows))
    return {"ours": ours, "skimage": reference, "pool": pooled,
            "ratio": statistics.median(r / o for o, r, _ in rows),
            "pool_ratio": statistics.median(r / p for _, r, p in rows)}


def main(argv: list[str] | None = None) -> None:
    parser = size_parser(__doc__.splitlines()[0], 3, "the image pair")
    parser.add_argument("--load", type=int, default=os.cpu_count() or 1, help="busy processes for the busy run")
    args = parser.parse_args(argv)
    width, height = (256, 256) if args.quick else map(int, args.size.lower().split("x"))
    count = 1 if args.quick else args.repeats

    rng = np.random.default_rng(0)
    gt = rng.integers(0, 65536, (height, width, 3), dtype=np.uint16)
    out = np.clip(gt + rng.normal(0, 3000, gt.shape).round(), 0, 65535).astype(np.uint16)
    unrelated = rng.integers(0, 65536, gt.shape, dtype=np.uint16)
    pairs = [(out, gt), (unrelated, gt)]

    print(f"metrics on a {width}x{height} uint16 RGB pair, {os.cpu_count()} CPU(s), torch {torch.__version__}, "
          f"scikit-image {skimage.__version__}, median of {count} round(s)")
    skimage_ssim(out, gt), psnr(out, gt), ssim(out, gt)  # warm-up
    conditions = [("as found", 0), (f"+{args.load} busy", args.load)] if args.load else [("as found", 0)]
    for label, load in conditions:
        processes = start_load(load)
        try:
            time.sleep(0.5 if load else 0)
            result = rounds(out, gt, pairs, count)
            machine = load_line()
        finally:
            stop_load(processes)
        print(f"[{label}] {machine}")
        print(f"  {'ssim (skimage)':<26} {result['skimage'] * 1e3:9.1f} ms  (reference)")
        print(f"  {'psnr+ssim (ours)':<26} {result['ours'] * 1e3:9.1f} ms  {result['ratio']:6.1f}x faster")
        print(f"  {'psnr+ssim in score pool':<26} {result['pool'] * 1e3:9.1f} ms  {result['pool_ratio']:6.1f}x faster")
    difference = max(abs(ssim(a, gt) - skimage_ssim(a, gt)) for a in (out, unrelated))
    print(f"{'max |ssim - skimage|':<28} {difference:9.1e}")


if __name__ == "__main__":
    main()
