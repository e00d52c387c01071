"""CPU inference of every learned model at its published width: achieved GFLOP/s against this machine's conv
throughput, measured in the same run.

    python perf/inference.py                     # every learned model, model-card input (5x4x128^2; x4: 64^2)
    python perf/inference.py --models tmrnet,dbsr --repeats 3
    python perf/inference.py --quick             # ahdrnet and kalantari17, 32x32, one run (what the tests call)

Per model: the best forward time of ``--repeats`` after a warm-up (``torch.inference_mode``, random weights:
the arithmetic does not depend on them), its FLOPs counted on the ``meta`` device (``models.complexity``: 2 x
MACs of convolutions, linear layers and matrix products; sampling, pooling and element-wise work are not
counted, so a model heavy in those reads low), and the ratio of its GFLOP/s to the best GFLOP/s of a
64 -> 64 3x3 convolution on a map of the input's size (``timing.conv_throughput``), the reference. Ratios
near 1 mean the model runs at the speed of this machine's convolutions; the issue's goal is >= 0.5.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import best_time, conv_throughput, load_line  # noqa: E402  (perf/ is the script folder)


def measure(name: str, side: int | None, repeats: int) -> dict[str, float]:
    """``{"seconds", "gflop", "side"}`` of one forward of model ``name`` on a random bracket."""
    import torch

    from models import build_model
    from models.complexity import FLOPS_INPUT, count_macs

    model = build_model(name).eval()
    shape = FLOPS_INPUT[getattr(model, "scale", 1)]
    if side is not None:
        shape = (*shape[:3], side, side)
    flops = 2 * count_macs(build_model(name).eval(), shape)
    raws = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        seconds = best_time(lambda: model(raws), repeats)
    return {"seconds": seconds, "gflop": flops / 1e9, "side": shape[-1]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="comma-separated (default: every learned model)")
    parser.add_argument("--side", type=int, default=None, help="packed input side (default: the model card's)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="ahdrnet and kalantari17, 32x32, one run")
    args = parser.parse_args(argv)
    import torch

    from models import MODELS

    if args.quick:
        args.models, args.side, args.repeats = "ahdrnet,kalantari17", 32, 1
    names = args.models.split(",") if args.models else [s.name for s in MODELS.specs() if s.needs_weights]
    print(f"CPU inference, {torch.get_num_threads()} thread(s), best of {args.repeats}; {load_line()}")
    peaks: dict[int, float] = {}
    ratios = []
    for name in names:
        result = measure(name, args.side, args.repeats)
        side = int(result["side"])
        if side not in peaks:
            peaks[side] = conv_throughput(side, side, args.repeats)
            print(f"{'conv 64->64 3x3 @' + str(side):<22} {peaks[side]:7.1f} GFLOP/s  (the reference; {load_line()})")
        achieved = result["gflop"] / result["seconds"]
        ratios.append(achieved / peaks[side])
        print(f"{name:<22} {result['seconds'] * 1e3:8.1f} ms  {result['gflop']:7.2f} GFLOP  {achieved:7.1f} GFLOP/s "
              f"= {ratios[-1]:.2f} x conv  (input 5x4x{side}^2)")
    print(f"{'median':<22} {sorted(ratios)[len(ratios) // 2]:.2f} x conv over {len(ratios)} model(s)")


if __name__ == "__main__":
    main()
