"""TMRNet forward time and peak memory on CPU (and tiled inference), full width (13.3 M parameters).

    python perf/tmrnet.py            # a [1, 5, 4, 256, 256] packed input, best of 2
    python perf/tmrnet.py --quick    # 32x32, one run (what the tests call)

Each measurement runs in its own subprocess so its peak resident memory (``ru_maxrss``) is its own;
``baseline`` is the same process after building the model, before any forward.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import best_time  # noqa: E402  (perf/ is the script folder)


def measure(size: int, repeats: int, tile: int | None) -> dict[str, float]:
    import torch

    from models import build_model
    from models.inference import tiled_forward

    model = build_model("tmrnet").eval()
    raws = torch.rand(1, 5, 4, size, size, generator=torch.Generator().manual_seed(0))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with torch.no_grad():
        seconds = best_time(lambda: tiled_forward(model, raws, tile=tile, overlap=32), repeats)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak, "baseline_mib": baseline}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="32x32 input, one run")
    parser.add_argument("--side", type=int, default=256, help="side of the square packed input")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    side = 32 if args.quick else args.side
    repeats = 1 if args.quick else args.repeats
    if args.child:
        tile = None if args.child[1] == "none" else int(args.child[1])
        print(json.dumps(measure(int(args.child[0]), repeats, tile)))
        return
    import torch

    print(f"TMRNet (13.29 M params) on CPU, input [1, 5, 4, {side}, {side}], {torch.get_num_threads()} thread(s)")
    for tile in (None, side // 2):
        command = [sys.executable, __file__, "--child", str(side), "none" if tile is None else str(tile),
                   "--repeats", str(repeats)]
        result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        label = "whole image" if tile is None else f"tiles of {tile} (+32 overlap)"
        print(f"{label:<28} {result['seconds']:7.2f} s  peak {result['peak_mib']:6.0f} MiB "
              f"(+{result['peak_mib'] - result['baseline_mib']:.0f} MiB over the built model)")


if __name__ == "__main__":
    main()
