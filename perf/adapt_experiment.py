"""Domain shift and self-supervised adaptation: does ``adapt`` help without ground truth?

    python perf/adapt_experiment.py --quick                   # tiny sizes, minutes on 2 CPU cores
    python perf/adapt_experiment.py --pretrain-iters 600 --adapt-iters 300 --out exp/adapt

1. Simulates a **source** domain (the default camera, heteroscedastic noise, ``builtin`` dead-leaves scenes) as a
   Train split, and a **target** domain (the ``brooks2019`` camera, ELD noise calibrated on the Sony IMX686,
   ``shapes`` scenes, another seed) as a Train split and a held-out Test split.
2. Pre-trains a small TMRNet on the source with the runner (ground truth used: the synthetic stage).
3. Benchmarks it on the target's Test split (PSNR / SSIM against the held-out ground truth), keeping the PNGs.
4. Adapts it on the target's Train split with ``benchmark.adaptation.adapt_to_folder`` (no ground truth read).
5. Benchmarks the adapted teacher (and the student) the same way; no-reference diagnostics before and after.
6. Plots the self-consistency and teacher terms of the adaptation loss (``adapt_loss.png`` in ``--out``).

Prints a Markdown table; ``--out`` keeps the datasets, runs, predictions, ``results.json`` and the plot.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SOURCE = ["motion.model=trajectory"]
TARGET = ["camera.name=brooks2019", "noise.model=eld", "noise.eld_preset=imx686", "source.name=shapes"]


def simulate(root: Path, split: str, overrides: list[str], size: int, samples: int, seed: int) -> Path:
    """One split of ``samples`` simulated ``size x size`` brackets in ``root`` (kept when already there)."""
    from simulator.dataset import generate_dataset
    from simulator.settings import load_simulation_config

    config = load_simulation_config("bracketire", [*overrides, f"output.size=[{size},{size}]",
                                                   f"num_samples={samples}", f"seed={seed}", f"output.split={split}"])
    generate_dataset(config, root, resume=True, progress=False)
    return root


def loss_curve(log: Path, plot: Path, title: str) -> dict[str, list[float]]:
    """Read ``loss_self`` and ``loss_teacher`` from an adaptation's ``log.csv`` and plot them (moving mean)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    series: dict[str, list[tuple[int, float]]] = {"loss_self": [], "loss_teacher": []}
    with open(log, newline="") as handle:
        for key, step, value in list(csv.reader(handle))[1:]:
            if key in series:
                series[key].append((int(step), float(value)))
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=120)
    for key, points in series.items():
        steps, values = np.array([p[0] for p in points]), np.array([p[1] for p in points])
        window = max(1, len(values) // 20)
        smooth = np.convolve(values, np.ones(window) / window, mode="valid")
        ax.plot(steps, values, alpha=0.25, lw=0.8)
        ax.plot(steps[window - 1:], smooth, lw=1.8, color=ax.lines[-1].get_color(),
                label=f"{key} (moving mean of {window})")
    ax.set_xlabel("adaptation step")
    ax.set_ylabel("mu-law L1")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(plot)
    plt.close(fig)
    return {k: [v for _, v in points] for k, points in series.items()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny TMRNet, 128 px samples, a few iterations")
    parser.add_argument("--out", type=Path, default=None, help="keep everything there (default: a temporary folder)")
    parser.add_argument("--size", type=int, default=256, help="ground-truth side of the simulated samples")
    parser.add_argument("--train-samples", type=int, default=16)
    parser.add_argument("--test-samples", type=int, default=8)
    parser.add_argument("--pretrain-iters", type=int, default=600)
    parser.add_argument("--adapt-iters", type=int, default=300)
    parser.add_argument("--patch", type=int, default=64)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--lr", type=float, default=5e-4, help="pre-training learning rate (short run)")
    parser.add_argument("--adapt-lr", type=float, default=7.5e-5, help="adaptation learning rate (published)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--width", choices=["tiny", "small"], default="small", help="TMRNet configuration of the spec")
    args = parser.parse_args(argv)
    if args.quick:
        args.size, args.train_samples, args.test_samples = 128, 3, 2
        args.pretrain_iters, args.adapt_iters, args.patch, args.batch, args.width = 4, 4, 32, 2, "tiny"

    import torch

    from benchmark.adaptation import adapt_to_folder
    from benchmark.bench import bench
    from benchmark.noref import DIAGNOSTICS, score_no_reference
    from models import MODELS
    from models.runner import train
    from models.train_config import load_run_config

    torch.set_num_threads(args.threads)  # a shared CPU: more threads than free cores is much slower
    spec = MODELS.spec("tmrnet")
    width = spec.tiny if args.width == "tiny" else spec.zoo_args
    model_args = [f"model.{k}={json.dumps(v)}" for k, v in width.items()]
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        source = simulate(out / "source", "Train", SOURCE, args.size, args.train_samples, seed=0)
        target = simulate(out / "target", "Train", TARGET, args.size, args.train_samples, seed=11)
        simulate(out / "target", "Test", TARGET, args.size, args.test_samples, seed=23)
        timings["simulate_s"] = time.perf_counter() - start

        common = ["data.workers=0", f"train.patch={args.patch}", f"train.batch_size={args.batch}",
                  "train.progress=false", "train.log_every=5"]
        pre_run = out / "pretrain"
        start = time.perf_counter()
        if not (pre_run / "checkpoints" / "last.pt").is_file():
            config = load_run_config(model="tmrnet", overrides=[
                *model_args, *common, f"data.root={source}", f"train.iters={args.pretrain_iters}",
                f"train.lr={args.lr}", "train.val_every=0", "data.val_split=null",
                f"train.save_every={args.pretrain_iters}"])
            train(config, pre_run)
        timings["pretrain_s"] = time.perf_counter() - start
        synthetic = pre_run / "checkpoints" / "last.pt"

        def evaluate(weights: Path, label: str) -> dict[str, float]:
            result = bench("tmrnet", weights, target, tile=None, runs_dir=out / "runs", save=out / f"pred_{label}")
            scores = {k: v for k, v in result.score.mean.items() if v is not None}
            noref = score_no_reference(out / f"pred_{label}", learned={})
            return {**scores, **{k: noref.mean[k] for k in DIAGNOSTICS}}

        rows = {"source-trained": evaluate(synthetic, "before")}
        adapt_run = out / "adapted"
        start = time.perf_counter()
        if not (adapt_run / "checkpoints" / "last.pt").is_file():
            adapt_to_folder("tmrnet", synthetic, target / "Train", adapt_run, iters=args.adapt_iters, overrides=[
                *common, "train.log_every=1", f"train.lr={args.adapt_lr}", f"train.save_every={args.adapt_iters}"])
        timings["adapt_s"] = time.perf_counter() - start
        rows["adapted (teacher)"] = evaluate(adapt_run / "checkpoints" / "last.pt", "after")
        student = out / "adapted_student.pt"
        state = torch.load(adapt_run / "checkpoints" / "last.pt", weights_only=True)
        torch.save({"params": state["params"], "model_config": state["model_config"]}, student)
        rows["adapted (student)"] = evaluate(student, "student")
        curves = loss_curve(adapt_run / "log.csv", out / "adapt_loss.png",
                            f"adapt on the target Train split ({args.adapt_iters} it, lr {args.adapt_lr:g}, "
                            f"batch {args.batch}, patch {args.patch})")

        import pandas as pd

        from benchmark.tables import to_markdown

        table = pd.DataFrame([{"model": k, **v} for k, v in rows.items()])
        summary = {"settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                   "timings": timings, "results": rows,
                   "loss_self_first_last": [sum(curves["loss_self"][:10]) / max(1, len(curves["loss_self"][:10])),
                                            sum(curves["loss_self"][-10:]) / max(1, len(curves["loss_self"][-10:]))]}
        (out / "results.json").write_text(json.dumps(summary, indent=2) + "\n")
        print(to_markdown(table))
        print(f"self-consistency loss, mean of the first / last 10 logged steps: "
              f"{summary['loss_self_first_last'][0]:.5f} / {summary['loss_self_first_last'][1]:.5f}")
        print("timings: " + ", ".join(f"{k} {v:.0f}" for k, v in timings.items()) + f"; everything in {out}")
        return summary


if __name__ == "__main__":
    main()
