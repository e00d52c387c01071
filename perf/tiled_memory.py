"""Peak memory of budgeted tiled inference (``tiled_forward(memory_gb=...)``) against its budget, TMRNet on CPU.

    python perf/tiled_memory.py            # budgets 0.25 and 0.5 GiB on a [1, 5, 4, 256, 256] input, overlap 32
    python perf/tiled_memory.py --quick    # a 0.1 GiB budget, a 96x96 input, overlap 8
    (each at 8, 16 and 64 channels: the law has a per-channel and a channel-independent term)

Each budget runs in its own subprocess so its peak resident memory (``ru_maxrss``) is its own; the
activation peak is that minus the same process's peak after building the model and the input. The tile
law (``models.inference.tile_for_budget``) counts the overlap: ``(tile + 2 overlap)^2`` pixels are run.
``peak / budget`` must stay at or below 1.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def measure(side: int, memory_gb: float, channels: int, overlap: int) -> dict[str, float]:
    import torch

    from models import build_model
    from models.inference import tile_for_budget, tiled_forward

    model = build_model("tmrnet", mid_channels=channels).eval()
    raws = torch.rand(1, 5, 4, side, side, generator=torch.Generator().manual_seed(0))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start = time.perf_counter()
    with torch.no_grad():
        tiled_forward(model, raws, tile=None, memory_gb=memory_gb, overlap=overlap)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"tile": tile_for_budget(memory_gb, channels, 5, overlap), "peak_mib": peak, "baseline_mib": baseline,
            "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small model, budget and input")
    parser.add_argument("--side", type=int, default=256, help="side of the square packed input")
    parser.add_argument("--overlap", type=int, default=None, help="default 32 (8 with --quick)")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.overlap is None:
        args.overlap = 8 if args.quick else 32
    if args.child:
        side, budget, channels = int(args.child[0]), float(args.child[1]), int(args.child[2])
        print(json.dumps(measure(side, budget, channels, args.overlap)))
        return
    side = 96 if args.quick else args.side
    budgets = (0.1,) if args.quick else (0.25, 0.5)
    print(f"TMRNet on CPU, input [1, 5, 4, {side}, {side}], overlap {args.overlap}")
    print(f"{'channels':>8} {'budget GiB':>10} {'tile':>5} {'run side':>8} {'peak MiB':>9} {'peak / budget':>13} {'s':>7}")
    for channels in (8, 16, 64):
        for budget in budgets:
            command = [sys.executable, __file__, "--child", str(side), str(budget), str(channels),
                       "--overlap", str(args.overlap)]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            result = json.loads(done.stdout.splitlines()[-1])
            activations = result["peak_mib"] - result["baseline_mib"]
            run_side = min(side, result["tile"] + 2 * args.overlap)
            print(f"{channels:>8d} {budget:>10.3f} {result['tile']:>5d} {run_side:>8d} {activations:>9.0f} "
                  f"{activations / (budget * 1024):>13.2f} {result['seconds']:>7.1f}", flush=True)


if __name__ == "__main__":
    main()
