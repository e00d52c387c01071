"""The zoo table: every learned model trained with one small, equal budget, then benched on the built-in benchmark.

    python perf/zoo.py                                  # all learned models, 300 iterations each (CPU: hours)
    python perf/zoo.py --models tmrnet,ahdrnet --iters 50
    python perf/zoo.py --quick                          # two models, 2 iterations (what the tests call)
    python perf/zoo.py --write-table                    # also rewrite the committed leaderboards/runs/zoo.md

Budget (the same for every model, printed with the table): ``--iters`` iterations of ``--batch`` random
``--patch`` crops of one simulated training split (``bracketire`` preset, built-in scenes, seed 11, never the
benchmark's seed 2024), AdamW with the published schedule shape at ``--lr``, L1 on mu-law, EMA weights
benched. Each model runs at its spec's ``small`` configuration, else its ``tiny`` one (``models/registry.py``;
TMRNet: 16 channels and 2 blocks per stage). This is far from convergence: read it as a smoke-level comparison,
never as the paper's numbers. Each bench row is appended to the runs folder (``--runs``, default
``$BRACKETIRE_RUNS`` or ``./runs``), the zoo rows to ``<runs>/zoo.csv`` and the table of this
budget, with the budget written above it, to ``<runs>/zoo.md``. The committed table (``leaderboards/runs/``) is
only rewritten with ``--write-table`` (never with ``--quick``); ``--runs`` cannot point there without it. Each row
carries the hardware its runtime (``s_per_image``: bench's median of repeats after a warm-up) was measured on.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def small_config(name: str) -> dict:
    """Constructor arguments of the budget run: the spec's ``small`` configuration, else its ``tiny`` one."""
    from models import MODELS

    spec = MODELS.spec(name)
    if not spec.needs_weights:
        raise SystemExit(f"{name}: not a learned model of the zoo ({', '.join(MODELS.names())})")
    return spec.zoo_args


def training_split(size: tuple[int, int], samples: int, split: str = "Train", seed: int = 11) -> Path:
    """A ``bracketire``-preset split of ``samples`` built-in scenes at ``size``, simulated once into the cache."""
    from simulator.core.weights import cache_dir
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    root = cache_dir() / f"zoo_{split.lower()}_{size[0]}x{size[1]}_{samples}_seed{seed}"
    config = load_simulation_config("bracketire", [f"output.size=[{size[0]},{size[1]}]", f"num_samples={samples}",
                                                   f"output.split={split}", f"seed={seed}"])
    generate_dataset(config, root, resume=True, progress=False)
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default=None, help="comma-separated (default: every learned model)")
    parser.add_argument("--iters", type=int, default=300)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--samples", type=int, default=24, help="training samples (640x384)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--runs", default=None, help="runs folder for the bench rows and zoo.md")
    parser.add_argument("--keep", default=None, help="keep the run folders here (default: a temporary folder)")
    parser.add_argument("--quick", action="store_true", help="tmrnet and ahdrnet, 2 iterations, patch 32, 2 samples of 192x128 to train and bench")
    parser.add_argument("--write-table", action="store_true",
                        help=f"write the bench rows and the zoo table into the committed {TABLE_FOLDER} (not with --quick)")
    args = parser.parse_args(argv)
    try:
        args.runs = table_folder_for(args.quick, args.write_table, args.runs)
    except ValueError as err:
        parser.error(str(err))  # one line, exit status 2
    import torch

    from benchmark.bench import BUILTIN_BENCHMARK_VERSION, bench, runs_folder
    from models import MODELS, weight_free_models
    from models.runner import train
    from models.train_config import RunConfig, load_run_config

    size, bench_data, where = (640, 384), None, f"the built-in benchmark v{BUILTIN_BENCHMARK_VERSION} (bracketire@1)"
    if args.quick:  # a plumbing check: small splits of its own, never the built-in benchmark
        args.models, args.iters, args.patch, args.batch, args.samples = "tmrnet,ahdrnet", 2, 32, 2, 2
        size, where = QUICK_SIZE, f"a {QUICK_SIZE[0]}x{QUICK_SIZE[1]} quick test split (seed 2024, 2 samples; bracketire@1)"
        bench_data = training_split(QUICK_SIZE, 2, split="Test", seed=2024)
    free = weight_free_models()  # benched as the floor, never trained
    names = args.models.split(",") if args.models else [s.name for s in MODELS.specs()  # BracketIRE: scale 1
                                                        if s.needs_weights and s.scale == 1]
    data = training_split(size, args.samples)
    budget = (f"{args.iters} iterations x batch {args.batch} x {args.patch}x{args.patch} patches, lr {args.lr:g} "
              f"(warm-up + cosine), {args.samples} simulated training samples ({size[0]}x{size[1]}, seed 11), device "
              f"{args.device}; TINY configurations (TMRNet: 16 channels, 2 blocks per stage); EMA weights")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        keep = Path(args.keep or tmp)
        for name in [*free, *names]:
            weights = None
            seconds, parts = 0.0, ""
            if name not in free:
                config = load_run_config(base=RunConfig(name, small_config(name)), overrides=[
                    f"data.root={data}", "data.val_split=null", "data.workers=1", f"train.iters={args.iters}",
                    f"train.batch_size={args.batch}", f"train.patch={args.patch}", f"train.lr={args.lr}",
                    f"train.device={args.device}", "train.progress=false", f"train.save_every={args.iters}"])
                run = keep / name
                start = time.perf_counter()
                train(config, run)
                seconds = time.perf_counter() - start
                weights = run / "checkpoints" / "last.pt"
                parts = "; ".join(f"{k}: {v}" for k, v in torch.load(weights, weights_only=True)
                                  .get("pretrained_parts", {}).items())
            result = bench(name, weights, data=bench_data, device=args.device, runs_dir=args.runs)
            rows.append({"model": name, "params_m": round(result.params / 1e6, 3),
                         "psnr": round(result.score.mean["psnr"], 2), "ssim": round(result.score.mean["ssim"], 4),
                         "train_min": round(seconds / 60, 1), "s_per_image": round(result.seconds_per_image, 2),
                         "hardware": result.row["hardware"], "pretrained_parts": parts})
            print(rows[-1], flush=True)
    rebuild = ("python perf/zoo.py --quick" if args.quick else
               f"python perf/zoo.py --iters {args.iters} --batch {args.batch} --patch {args.patch} --lr {args.lr:g} "
               f"--samples {args.samples}")  # the whole table's command, even when this sitting ran --models
    write_zoo_table(rows, budget, runs_folder(args.runs), where, rebuild)


QUICK_SIZE = (192, 128)  # --quick trains and benches at this size: the plumbing, not the numbers
TABLE_FOLDER = Path(__file__).resolve().parent.parent / "leaderboards" / "runs"  # the committed tables


def table_folder_for(quick: bool, write_table: bool, runs: str | None) -> str | None:
    """Where the rows go: the committed folder with ``write_table``, else ``runs`` (default: the runs folder).

    Raises:
        ValueError: ``--write-table`` with ``--quick``, or ``--runs`` naming the committed folder without
            ``--write-table`` (a quick or casual run never rewrites the committed table).
    """
    if write_table and quick:
        raise ValueError("--write-table with --quick: a quick run never rewrites the committed zoo table")
    if write_table:
        return str(TABLE_FOLDER)
    if runs is not None and Path(runs).resolve() == TABLE_FOLDER:
        raise ValueError(f"--runs {runs} is the committed table folder; pass --write-table to rewrite it")
    return runs


def write_zoo_table(rows: list[dict], budget: str, folder: Path,
                    where: str = "the built-in benchmark", rebuild: str = "") -> Path:
    """Append ``rows`` to ``<folder>/zoo.csv`` and rewrite ``<folder>/zoo.md`` from every row of this budget
    (the latest per model, best PSNR first), so models can be run in several sittings. ``rebuild``: the
    command that trains the weights again (the table's ``weights_sha256`` rows in ``bench.csv`` point at them)."""
    import pandas as pd

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "zoo.csv"
    new = pd.DataFrame(rows).assign(budget=budget)
    table = pd.concat([pd.read_csv(path), new]) if path.exists() else new
    table.to_csv(path, index=False)
    same = table[table["budget"] == budget].drop_duplicates("model", keep="last").drop(columns="budget")
    if "pretrained_parts" in same:  # rows from before the column existed (no model of theirs had a part loaded)
        same = same.assign(pretrained_parts=same["pretrained_parts"].fillna(""))
    again = (f"The weights are not shipped; `{rebuild}` trains them again (their bytes, and so `weights_sha256` "
             "in bench.csv, depend on torch's thread count).\n\n") if rebuild else ""
    text = (f"Zoo on {where}. Budget per learned model: {budget}.\n\n{again}"
            f"{same.sort_values('psnr', ascending=False).to_markdown(index=False)}\n")
    print("\n" + text)
    (folder / "zoo.md").write_text(text)
    return folder / "zoo.md"


if __name__ == "__main__":
    main()
