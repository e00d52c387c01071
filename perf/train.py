"""Training speed of the runner: iterations per second and the share of time spent waiting for data.

    python perf/train.py                          # TMRNet (full width), patch 64, batch 8, 6 timed steps
    python perf/train.py --set model.mid_channels=16 --steps 20
    python perf/train.py --quick                  # tiny TMRNet, patch 32, batch 2, 3 steps (what the tests call)

The training data is a small simulated Train split (cached under $BRACKETIRE_CACHE). The first step is
left out of the rates (worker start-up); data loading share = time blocked on the loader / step time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def tiny_overrides(name: str) -> list[str]:
    """The tiny configuration of model ``name`` (its spec) as ``--set`` items."""
    from models import MODELS

    return MODELS.spec(name).tiny_overrides()


def training_data(size: int, samples: int) -> Path:
    from simulator.core.weights import cache_dir
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    root = cache_dir() / f"perf_train_{size}_{samples}"
    config = load_simulation_config("bracketire", [f"output.size=[{size},{size}]", f"num_samples={samples}",
                                                   "output.split=Train"])
    generate_dataset(config, root, resume=True, progress=False)
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny TMRNet, patch 32, batch 2, 3 steps")
    parser.add_argument("--model", default="tmrnet")
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=6, help="timed steps (one more is run first)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    import torch

    from models import build_model, parameter_count
    from models.runner import train
    from models.train_config import load_run_config

    patch, batch, steps = (32, 2, 3) if args.quick else (args.patch, args.batch, args.steps)
    overrides = [*(tiny_overrides(args.model) if args.quick else []), *args.overrides]
    root = training_data(160 if args.quick else 384, 4 if args.quick else 16)
    config = load_run_config(model=args.model, overrides=[
        *overrides, f"data.root={root}", f"data.workers={args.workers}", f"train.patch={patch}",
        f"train.batch_size={batch}", f"train.iters={steps + 1}", "train.progress=false", "data.val_split=null"])
    params = parameter_count(build_model(config.model, **dict(config.model_args)))
    with tempfile.TemporaryDirectory() as run:
        result = train(config, Path(run) / "run")
    print(f"model {config.model} ({params / 1e6:.2f} M params) patch {patch} batch {batch} workers {args.workers} "
          f"threads {torch.get_num_threads()} device {config.train.device}")
    print(f"train step  {result.seconds_per_step:8.3f} s   {1 / result.seconds_per_step:7.3f} it/s   "
          f"{batch / result.seconds_per_step:7.2f} samples/s")
    print(f"data loading share {100 * result.data_share:5.1f} %")


if __name__ == "__main__":
    main()
