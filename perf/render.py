"""The protocol's DemosaicNet render: ms per megapixel against its FLOP count and this machine's conv speed.

    python perf/render.py            # 1920x1080, best of 2
    python perf/render.py --quick    # 256x256, one run (what the tests call)

Same-run reference: one 64 -> 64 3x3 convolution (the layer DemosaicNet is made of) on the network's
half-resolution feature map, timed in both memory formats; its best GFLOP/s is "this machine's conv
throughput". DemosaicNet's FLOPs are counted by ``torch.utils.flop_counter`` (2 x multiply-accumulates of
its convolutions). Printed: the demosaic pass in ms / MP, its achieved GFLOP/s and the ratio to the conv
throughput (1.0 = as fast as float32 convolutions go here), then rendering ``--batch`` outputs one by one
vs in one batch (``tonemap_raw``, the whole protocol chain), in ms per image, with the machine's load.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import best_time, conv_throughput, load_line, size_parser  # noqa: E402  (perf/ is the script folder)

from simulator.camera import sample_camera  # noqa: E402
from simulator.demosaic.demosaicnet import demosaic_demosaicnet, load_demosaicnet  # noqa: E402
from simulator.render import tonemap_raw  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = size_parser(__doc__.splitlines()[0], 2, "the full-resolution image")
    parser.add_argument("--batch", type=int, default=4, help="outputs rendered together")
    args = parser.parse_args(argv)
    width, height = (256, 256) if args.quick else map(int, args.size.lower().split("x"))
    repeats = 1 if args.quick else args.repeats
    megapixels = width * height / 1e6

    net = load_demosaicnet()
    packed = torch.rand(4, height // 2, width // 2, generator=torch.Generator().manual_seed(0))
    counter = FlopCounterMode(display=False)
    with counter, torch.inference_mode():
        demosaic_demosaicnet(packed, net)
    flops = counter.get_total_flops()
    print(f"DemosaicNet render at {width}x{height}, {torch.get_num_threads()} thread(s), torch {torch.__version__}, "
          f"best of {repeats}; {load_line()}")
    peak = conv_throughput(height // 2, width // 2, repeats)
    print(f"{'conv 64->64 3x3':<26} {peak:9.1f} GFLOP/s  (reference: this machine's float32 conv throughput)")
    seconds = best_time(lambda: demosaic_demosaicnet(packed, net), repeats)
    achieved = flops / seconds / 1e9
    print(f"{'demosaicnet pass':<26} {seconds * 1e3 / megapixels:9.1f} ms/MP  {flops / 1e9 / megapixels:.0f} GFLOP/MP  "
          f"{achieved:.1f} GFLOP/s = {achieved / peak:.2f} x the conv throughput")

    meta = sample_camera("bracketire", torch.Generator().manual_seed(1))
    outputs = 16 * torch.rand(args.batch, 4, height // 2, width // 2, generator=torch.Generator().manual_seed(2))
    one = best_time(lambda: [tonemap_raw(o, meta) for o in outputs], repeats) / args.batch
    batched = best_time(lambda: tonemap_raw(outputs, meta), repeats) / args.batch
    print(f"{'render one by one':<26} {one * 1e3:9.1f} ms/image")
    print(f"{f'render in batches of {args.batch}':<26} {batched * 1e3:9.1f} ms/image  {one / batched:.2f}x one by one  "
          f"({load_line()})")


if __name__ == "__main__":
    main()
