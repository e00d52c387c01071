"""Time camera motion: trajectory, kernels of a 5-frame bracket, FFT blur, rotating sub-frames, DIS interpolation.

    python perf/motion.py            # 1920x1080, best of 3 runs (DIS: best of 2)
    python perf/motion.py --quick    # 128x96, one run (what the tests call)

Prints one line per stage: milliseconds (best of the repeats), then megapixels per second for image stages.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import best_time, size_parser  # noqa: E402  (perf/ is the script folder)

from simulator.exposure import exposure_windows  # noqa: E402
from simulator.motion import (  # noqa: E402
    apply_kernel,
    interpolate_frames,
    render_subframes,
    sample_trajectory,
    trajectory_kernel,
)
from simulator.sources import builtin_scene  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = size_parser(__doc__.splitlines()[0], 3, "the image")
    parser.add_argument("--length", type=float, default=80.0, help="path length of the bracket, pixels")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    args = parser.parse_args(argv)
    width, height = (128, 96) if args.quick else map(int, args.size.lower().split("x"))
    repeats = 1 if args.quick else args.repeats
    torch.set_num_threads(args.threads)

    margin = 8
    scene = builtin_scene(height + margin, width + margin, torch.Generator().manual_seed(0))
    image = scene[:, :height, :width].contiguous()
    megapixels = width * height / 1e6
    windows = exposure_windows(5, 4.0)
    duration = windows[-1][1]
    print(f"camera motion on {width}x{height}, {args.threads} thread(s), torch {torch.__version__}, best of {repeats}")

    def row(label: str, fn, image_stage: bool = True, runs: int = repeats) -> None:
        seconds = best_time(fn, runs)
        rate = f"  {megapixels / seconds:8.1f} MP/s" if image_stage else ""
        print(f"{label:<30} {seconds * 1e3:9.1f} ms{rate}")

    row("sample_trajectory", lambda: sample_trajectory(duration, args.length, torch.Generator().manual_seed(1)),
        image_stage=False)
    trajectory = sample_trajectory(duration, args.length, torch.Generator().manual_seed(1), rotation=1.0)
    kernels = []
    for index, (start, end) in enumerate(windows):
        kernel = trajectory_kernel(trajectory, start, end)
        kernels.append(kernel)
        size = f"{kernel.shape[0]}x{kernel.shape[1]}"
        row(f"trajectory_kernel[{index}] {size}", lambda s=start, e=end: trajectory_kernel(trajectory, s, e),
            image_stage=False)
    line = torch.zeros(41, 41)
    line[20, :] = 1 / 41
    for index, kernel in enumerate([*kernels, line]):
        size = f"{kernel.shape[0]}x{kernel.shape[1]}"
        label = f"apply_kernel[{index}] {size}" if index < len(kernels) else f"apply_kernel[line] {size}"
        row(label, lambda k=kernel: apply_kernel(image, k))
    start, end = windows[-1]
    row("render_subframes[8, 1 deg]", lambda: render_subframes(image, trajectory, start, end, 8))
    shifted = scene[:, 5: 5 + height, 3: 3 + width].contiguous()  # content moved by (-3, -5) px
    row("interpolate_frames[dis, 4]", lambda: interpolate_frames(image, shifted, [0.2, 0.4, 0.6, 0.8], "dis"),
        runs=min(repeats, 2))


if __name__ == "__main__":
    main()
