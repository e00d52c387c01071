"""CPU inference of every learned model at its published width: achieved GFLOP/s against this machine's conv
throughput, measured in the same run.

    python perf/inference.py                     # every learned model, model-card input (5x4x128^2; x4: 64^2)
    python perf/inference.py --models tmrnet,dbsr --repeats 3
    python perf/inference.py --quick             # ahdrnet and kalantari17, 32x32, one run (what the tests call)
    python perf/inference.py --profile           # also: where each model's time goes, by kind of operation

Per model: the best forward time of ``--repeats`` after a warm-up (``torch.inference_mode``, random weights:
the arithmetic does not depend on them), its FLOPs counted on the ``meta`` device (``models.complexity``: 2 x
MACs of convolutions, linear layers and matrix products; sampling, pooling and element-wise work are not
counted, so a model heavy in those reads low), and the ratio of its GFLOP/s to the best GFLOP/s of a
64 -> 64 3x3 convolution on a map of the input's size (``timing.conv_throughput``), the reference. Ratios
near 1 mean the model runs at the speed of this machine's convolutions; the issue's goal is >= 0.5.

``--profile`` runs one more forward under ``torch.profiler`` and prints the shares of its CPU time by kind of
operation (:data:`KINDS`): a model that reads low spends its time in work the FLOP count leaves out.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from timing import best_time, conv_throughput, load_line  # noqa: E402  (perf/ is the script folder)

# aten operator -> kind, for --profile (first matching prefix; anything else is "other")
KINDS = (
    ("conv", ("aten::mkldnn_convolution", "aten::_slow_conv2d", "aten::thnn_conv", "aten::_convolution")),
    ("matmul", ("aten::addmm", "aten::bmm", "aten::mm", "aten::baddbmm", "aten::linear")),
    ("softmax", ("aten::_softmax",)),
    ("norm", ("aten::native_layer_norm", "aten::var", "aten::std", "aten::mean", "aten::sum", "aten::linalg_vector_norm")),
    ("pooling", ("aten::avg_pool", "aten::adaptive_avg_pool", "aten::_adaptive_avg_pool", "aten::max_pool")),
    ("sampling", ("aten::gather", "aten::grid_sampler", "aten::index", "aten::upsample", "aten::scatter")),
    ("copy", ("aten::copy_", "aten::cat", "aten::clone", "aten::contiguous", "aten::roll", "aten::constant_pad")),
    ("elementwise", ("aten::add", "aten::mul", "aten::sub", "aten::div", "aten::gelu", "aten::relu", "aten::leaky_relu",
                     "aten::sigmoid", "aten::abs", "aten::le", "aten::ge", "aten::lt", "aten::gt", "aten::where",
                     "aten::clamp", "aten::exp", "aten::pow", "aten::floor", "aten::sqrt", "aten::rsqrt", "aten::tanh",
                     "aten::neg", "aten::silu", "aten::fill_", "aten::zero_")),
)


def time_shares(fn) -> dict[str, float]:
    """Shares of ``fn()``'s self CPU time by kind of operation (:data:`KINDS`), summing to 1."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    shares: dict[str, float] = {}
    for event in prof.key_averages():
        kind = next((k for k, prefixes in KINDS if event.key.startswith(prefixes)), "other")
        shares[kind] = shares.get(kind, 0.0) + event.self_cpu_time_total
    total = sum(shares.values()) or 1.0
    return {kind: value / total for kind, value in sorted(shares.items(), key=lambda item: -item[1])}


def measure(name: str, side: int | None, repeats: int, profile: bool = False) -> dict:
    """``{"seconds", "gflop", "side"}`` of one forward of model ``name`` on a random bracket (and ``"shares"``,
    :func:`time_shares`, with ``profile``)."""
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
        shares = time_shares(lambda: model(raws)) if profile else {}
    return {"seconds": seconds, "gflop": flops / 1e9, "side": shape[-1], "shares": shares}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="comma-separated (default: every learned model)")
    parser.add_argument("--side", type=int, default=None, help="packed input side (default: the model card's)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="ahdrnet and kalantari17, 32x32, one run")
    parser.add_argument("--profile", action="store_true", help="also print each model's CPU time by kind of operation")
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
        result = measure(name, args.side, args.repeats, args.profile)
        side = int(result["side"])
        if side not in peaks:
            peaks[side] = conv_throughput(side, side, args.repeats)
            print(f"{'conv 64->64 3x3 @' + str(side):<22} {peaks[side]:7.1f} GFLOP/s  (the reference; {load_line()})")
        achieved = result["gflop"] / result["seconds"]
        ratios.append(achieved / peaks[side])
        print(f"{name:<22} {result['seconds'] * 1e3:8.1f} ms  {result['gflop']:7.2f} GFLOP  {achieved:7.1f} GFLOP/s "
              f"= {ratios[-1]:.2f} x conv  (input 5x4x{side}^2)")
        if result["shares"]:
            print(f"{'':<22} time: " + ", ".join(f"{kind} {100 * share:.0f} %" for kind, share in result["shares"].items()
                                                  if share >= 0.01))
    print(f"{'median':<22} {sorted(ratios)[len(ratios) // 2]:.2f} x conv over {len(ratios)} model(s)")


if __name__ == "__main__":
    main()
