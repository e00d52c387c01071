"""Learning check: the same small model, the same budget, trained on old (``shapes``) or new (``builtin``,
dead leaves) scenes; each scored on held-out data of both families and on photographs.

    python perf/learning_check.py                       # kalantari17, 300 iterations per run (CPU: ~10-20 min)
    python perf/learning_check.py --model tmrnet --iters 200
    python perf/learning_check.py --quick               # 2 iterations, tiny sets (what a smoke test would call)
    python perf/learning_check.py --families builtin --name lc_builtin   # one family per process, in parallel

Training data: ``bracketire`` preset, ``--samples`` samples of 640x384, seed 11, source ``builtin`` or ``shapes``.
Held-out test sets (never the training seed): the built-in benchmark v1 (``shapes``, seed 2024) and v2
(``builtin``, seed 2024), and the photographs of the ``photos`` source (scikit-image's public-domain / CC0
pictures, 448x288, ``source.highlight_gain=4``, seed 2024). Budget: ``--iters`` iterations of ``--batch``
crops of ``--patch`` pixels, lr ``--lr``, the model's TINY configuration, EMA weights scored. The table (with
the budget above it) goes to ``<runs>/learning_check.md`` and ``.csv``; the bench rows to a scratch runs folder
(they are off-protocol experiments, not leaderboard entries).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TRAIN_FAMILIES = ("shapes", "builtin")


def simulated(name: str, overrides: list[str]) -> Path:
    """A cached simulated dataset (``bracketire`` preset plus ``overrides``) under ``$BRACKETIRE_CACHE``."""
    from simulator.core.weights import cache_dir
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    root = cache_dir() / name
    generate_dataset(load_simulation_config("bracketire", overrides), root, resume=True, progress=False)
    return root


def test_sets(quick: bool) -> dict[str, Path]:
    """Held-out sets: benchmark v1 (shapes), v2 (dead leaves), photographs."""
    from benchmark.bench import builtin_benchmark

    if quick:
        common = ["output.size=[256, 192]", "num_samples=1", "seed=2024", "output.previews=true"]
        return {f"{family}_test": simulated(f"lc_quick_{family}_test", [f"source.name={family}", *common])
                for family in TRAIN_FAMILIES}
    return {"shapes_test (bench v1)": builtin_benchmark(version=1), "builtin_test (bench v2)": builtin_benchmark(version=2),
            "photos": simulated("lc_photos_448x288", ["source.name=photos", "source.highlight_gain=4",
                                                       "output.size=[448, 288]", "seed=2024", "num_samples=5",
                                                       "output.previews=true"])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="kalantari17")
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--samples", type=int, default=16, help="training samples (640x384) per family")
    parser.add_argument("--runs", default=None, help="folder for learning_check.md/.csv (default leaderboards/runs)")
    parser.add_argument("--families", default=",".join(TRAIN_FAMILIES), help="train on these (comma-separated)")
    parser.add_argument("--name", default="learning_check", help="table file names: <runs>/<name>.md and .csv")
    parser.add_argument("--quick", action="store_true", help="2 iterations, patch 32, 2 tiny samples")
    args = parser.parse_args(argv)
    import pandas as pd

    from benchmark.bench import bench, runs_folder
    from models.runner import train
    from models.train_config import RunConfig, load_run_config
    from perf.zoo import small_config

    size = "[256, 192]" if args.quick else "[640, 384]"
    if args.quick:
        args.iters, args.patch, args.batch, args.samples = 2, 32, 2, 2
    tests = test_sets(args.quick)
    budget = (f"{args.model} (TINY), {args.iters} iterations x batch {args.batch} x {args.patch}x{args.patch} patches, "
              f"lr {args.lr:g}, {args.samples} training samples ({size}, seed 11), EMA weights, CPU")
    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for family in args.families.split(","):
            data = simulated(f"lc_train_{family}_{args.samples}_{size.strip('[]').replace(', ', 'x')}",
                             [f"source.name={family}", f"output.size={size}", f"num_samples={args.samples}",
                              "output.split=Train", "seed=11"])
            config = load_run_config(base=RunConfig(args.model, small_config(args.model)), overrides=[
                f"data.root={data}", "data.val_split=null", "data.workers=1", f"train.iters={args.iters}",
                f"train.batch_size={args.batch}", f"train.patch={args.patch}", f"train.lr={args.lr}",
                "train.device=cpu", "train.progress=false", f"train.save_every={args.iters}"])
            run = Path(scratch) / family
            start, cpu = time.perf_counter(), time.process_time()
            train(config, run)
            row = {"trained_on": family, "train_min": round((time.perf_counter() - start) / 60, 1),
                   "train_cpu_min": round((time.process_time() - cpu) / 60, 1)}
            for name, root in tests.items():
                result = bench(args.model, run / "checkpoints" / "last.pt", data=root, runs_dir=Path(scratch) / "runs")
                row[f"{name} psnr"] = round(result.score.mean["psnr"], 2)
                row[f"{name} ssim"] = round(result.score.mean["ssim"], 4)
            print(row, flush=True)
            rows.append(row)
        merge = {"trained_on": "(merge, no training)", "train_min": 0.0, "train_cpu_min": 0.0}
        for name, root in tests.items():
            result = bench("merge", None, data=root, runs_dir=Path(scratch) / "runs")
            merge[f"{name} psnr"] = round(result.score.mean["psnr"], 2)
            merge[f"{name} ssim"] = round(result.score.mean["ssim"], 4)
        rows.append(merge)
    table = pd.DataFrame(rows)
    folder = runs_folder(args.runs)
    folder.mkdir(parents=True, exist_ok=True)
    text = f"Learning check (bracketire@1 scoring). Budget per run: {budget}.\n\n{table.to_markdown(index=False)}\n"
    print("\n" + text)
    if not args.quick:
        table.assign(budget=budget).to_csv(folder / f"{args.name}.csv", index=False)
        (folder / f"{args.name}.md").write_text(text)


if __name__ == "__main__":
    main()
