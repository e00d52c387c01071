"""TMRNet forward time and peak memory on CPU (and tiled inference), full width (13.3 M parameters).

    python perf/tmrnet.py            # a [1, 5, 4, 256, 256] packed input, best of 2
    python perf/tmrnet.py --quick    # 32x32, one run (what the tests call)

Each measurement runs in its own subprocess so its peak resident memory (``ru_maxrss``) is its own;
``baseline`` is the same process after building the model, before any forward.

Same-run references: this machine's float32 conv throughput (a 64 -> 64 3x3 convolution on a map of the
input's size, ``timing.conv_throughput``), against which TMRNet's achieved GFLOP/s is given (FLOPs counted
on the ``meta`` device, ``models.complexity``; the deformable convolution's sampling is not counted); the
share of the forward spent inside the deformable convolutions (pure PyTorch here), timed by hooks; and the
peak memory against the tiling budget ``models.inference`` plans with.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import conv_throughput, load_line  # noqa: E402  (perf/ is the script folder)


def measure(size: int, repeats: int, tile: int | None) -> dict[str, float]:
    import time

    import torch

    from models import build_model
    from models.inference import tiled_forward
    from models.layers.dcn import ModulatedDeformConv2d

    model = build_model("tmrnet").eval()
    raws = torch.rand(1, 5, 4, size, size, generator=torch.Generator().manual_seed(0))
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    dcn = {"seconds": 0.0, "start": 0.0}

    def enter(*_: object) -> None:
        dcn["start"] = time.perf_counter()

    def leave(*_: object) -> None:
        dcn["seconds"] += time.perf_counter() - dcn["start"]

    for layer in model.modules():
        if isinstance(layer, ModulatedDeformConv2d):
            layer.register_forward_pre_hook(enter)
            layer.register_forward_hook(leave)
    seconds, share = float("inf"), 0.0
    with torch.no_grad():
        tiled_forward(model, raws, tile=tile, overlap=32)  # warm-up
        for _ in range(repeats):  # the best pass gives both the time and the DCN share
            dcn["seconds"] = 0.0
            start = time.perf_counter()
            tiled_forward(model, raws, tile=tile, overlap=32)
            elapsed = time.perf_counter() - start
            if elapsed < seconds:
                seconds, share = elapsed, dcn["seconds"] / elapsed
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"seconds": seconds, "peak_mib": peak, "baseline_mib": baseline, "dcn_share": share}


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

    from models import build_model
    from models.complexity import count_macs
    from models.inference import forward_bytes

    flops = 2 * count_macs(build_model("tmrnet").eval(), (1, 5, 4, side, side))
    peak_gflops = conv_throughput(side, side, repeats)
    print(f"TMRNet (13.29 M params) on CPU, input [1, 5, 4, {side}, {side}], {torch.get_num_threads()} thread(s), "
          f"{flops / 1e9:.1f} GFLOP; {load_line()}")
    print(f"{'conv 64->64 3x3':<28} {peak_gflops:7.1f} GFLOP/s (reference: this machine's float32 conv throughput)")
    for tile in (None, side // 2):
        command = [sys.executable, __file__, "--child", str(side), "none" if tile is None else str(tile),
                   "--repeats", str(repeats)]
        result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1])
        label = "whole image" if tile is None else f"tiles of {tile} (+32 overlap)"
        achieved = flops / result["seconds"] / 1e9
        budget = forward_bytes(min(side, tile or side) ** 2, 64, 5) / 2**20  # what tiling plans for
        print(f"{label:<28} {result['seconds']:7.2f} s  peak {result['peak_mib']:6.0f} MiB "
              f"(+{result['peak_mib'] - result['baseline_mib']:.0f} MiB over the built model; planned {budget:.0f} MiB)  "
              f"{achieved:.1f} GFLOP/s = {achieved / peak_gflops:.2f} x conv  DCN {100 * result['dcn_share']:.0f} % of the time")


if __name__ == "__main__":
    main()
