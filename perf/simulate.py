"""Seconds per simulated sample and peak memory, for each motion mode.

    python perf/simulate.py            # 1920x1080 BracketIRE samples, best of 2 per mode
    python perf/simulate.py --quick    # 128x64, one run (what the tests call)

Each mode runs in a fresh subprocess so its peak resident memory (``ru_maxrss``) is its own. The time
covers scene creation, simulation and writing the sample folder (``simulate_sample`` + ``write_frame``);
each mode is also given as a ratio to the trajectory mode of the same run. With the video mode, a last line
times its bilinear warps alone (two per interpolated sub-frame at the configured timing): no faithful CPU
implementation can be faster than that.

Then ``generate_dataset`` makes ``--samples`` samples with 1 and with 2 workers (each worker capped at
``CPUs // workers`` threads), after a first run that starts the worker pool: seconds per sample and the
throughput of 2 workers relative to 1 (>= 1: parallel generation does not lose). The machine's load
average is printed beside each figure.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import load_line  # noqa: E402  (perf/ is the script folder)

MODES = {
    "none": ["motion.model=none"],
    "trajectory": ["motion.model=trajectory"],
    "trajectory+rotation": ["motion.model=trajectory", "motion.rotation=1.0"],
    "video": ["motion.model=video"],
}


def run_mode(preset: str, overrides: list[str], width: int, height: int, repeats: int) -> dict[str, float]:
    """Simulate ``repeats`` samples in this process; best seconds and peak RSS in MiB."""
    import torch

    from simulator.dataset import sample_generator
    from simulator.layout import write_frame
    from simulator.pipeline import simulate_sample
    from simulator.settings import load_simulation_config
    from simulator.sources import builtin_scene

    config = load_simulation_config(preset, [f"output.size=[{width}, {height}]", *overrides])
    video = config.motion.model == "video"
    best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(repeats + 1):  # the first run warms up (imports, allocator)
            start = time.perf_counter()
            generator = sample_generator(0, index)
            if video:  # 12 frames of a slow pan stand in for an HDR video clip
                wide = builtin_scene(height, width + 24, generator)
                frames = torch.stack([wide[:, :, 2 * k : 2 * k + width] for k in range(12)])
            else:
                frames = builtin_scene(height, width, generator)[None]
            sample = simulate_sample(config, frames, generator)
            write_frame(Path(tmp) / f"s{index}", sample.raws, sample.exposures, sample.gt, sample.meta,
                        sample.alignratio)
            if index:
                best = min(best, time.perf_counter() - start)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": best, "peak_mib": peak_mib}


def warp_floor(preset: str, width: int, height: int) -> dict[str, float]:
    """Seconds of the video mode's bilinear warps alone: two per interpolated sub-frame at the preset's timing
    (the least any faithful CPU implementation pays), from 20 timed warps of a ``[1, 3, H, W]`` frame."""
    import torch
    import torch.nn.functional as F

    from simulator.exposure import exposure_windows, video_subframe_times
    from simulator.settings import load_simulation_config

    config = load_simulation_config(preset, [f"output.size=[{width}, {height}]", "motion.model=video"])
    spk = config.motion.subframes_per_key
    times = [t for w in exposure_windows(config.exposure.frames, config.exposure.ratio)
             for t in video_subframe_times(w, config.motion.video_timing, config.motion.subframes)]
    warps = 2 * sum(1 for t in times if t % spk)
    frame = torch.rand(1, 3, height, width)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, height), torch.linspace(-1, 1, width), indexing="ij")
    grid = torch.stack([xs + 5.0 / width, ys - 3.0 / height], dim=-1)[None]  # a smooth warp, as the flows are
    F.grid_sample(frame, grid, mode="bilinear", padding_mode="border", align_corners=False)  # warm-up
    start = time.perf_counter()
    for _ in range(20):
        F.grid_sample(frame, grid, mode="bilinear", padding_mode="border", align_corners=False)
    return {"seconds": (time.perf_counter() - start) / 20 * warps, "warps": warps}


def run_workers(preset: str, width: int, height: int, samples: int, workers: int) -> dict[str, float]:
    """Seconds per sample of ``generate_dataset`` with ``workers`` processes (a fresh dataset each time)."""
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    size = f"output.size=[{width}, {height}]"
    with tempfile.TemporaryDirectory() as tmp:  # a first small run starts joblib's reusable worker pool
        generate_dataset(load_simulation_config(preset, [size, f"num_samples={workers}"]), Path(tmp) / "warm",
                         workers=workers, progress=False)
        start = time.perf_counter()
        generate_dataset(load_simulation_config(preset, [size, f"num_samples={samples}", "seed=1"]),
                         Path(tmp) / "data", workers=workers, progress=False)
        return {"seconds": (time.perf_counter() - start) / samples}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny samples, one run per mode")
    parser.add_argument("--size", default="1920x1080")
    parser.add_argument("--preset", default="bracketire")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--samples", type=int, default=4, help="samples per run of the worker comparison")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated motion modes to time")
    parser.add_argument("--child", nargs=1, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    width, height = (128, 64) if args.quick else map(int, args.size.lower().split("x"))
    repeats = 1 if args.quick else args.repeats
    samples = 2 if args.quick else args.samples
    if args.child:
        name = args.child[0]
        if name.startswith("workers="):
            result = run_workers(args.preset, width, height, samples, int(name.split("=")[1]))
        elif name == "warps":
            result = warp_floor(args.preset, width, height)
        else:
            result = run_mode(args.preset, MODES[name], width, height, repeats)
        print(json.dumps(result))
        return
    import torch

    def child(name: str) -> dict[str, float]:
        command = [sys.executable, __file__, "--child", name, "--size", f"{width}x{height}", "--preset", args.preset,
                   "--repeats", str(repeats), "--samples", str(samples)]
        done = subprocess.run(command, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    print(f"simulate {args.preset} {width}x{height}, {torch.get_num_threads()} thread(s), best of {repeats}")
    modes = args.modes.split(",")
    results = {mode: child(mode) for mode in modes}
    reference = results.get("trajectory")
    for mode, result in results.items():
        ratio = f"{result['seconds'] / reference['seconds']:5.2f}x trajectory" if reference else ""
        print(f"{mode:<22} {result['seconds']:7.2f} s/sample  {ratio}  peak {result['peak_mib']:7.0f} MiB  "
              f"({load_line()})")
    if "video" in results and reference:
        floor = child("warps")
        print(f"{'video: the warps alone':<22} {floor['seconds']:7.2f} s/sample  "
              f"{floor['seconds'] / reference['seconds']:5.2f}x trajectory  ({floor['warps']} bilinear warps of a "
              f"3-channel frame, the floor of a faithful CPU video mode; {load_line()})")
    one = child("workers=1")
    print(f"{'1 worker':<22} {one['seconds']:7.2f} s/sample  ({samples} samples; {load_line()})")
    two = child("workers=2")
    print(f"{'2 workers':<22} {two['seconds']:7.2f} s/sample  {one['seconds'] / two['seconds']:5.2f}x the "
          f"throughput of 1 worker  ({load_line()})")


if __name__ == "__main__":
    main()
