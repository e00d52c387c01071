"""Export a finished (or stopped) run's EMA weights as a shipped weight file, with its card.

    python perf/ship_weights.py RUN --name spynet_bracketire --data "what it was trained on"

writes ``models/weights/<name>.pth`` (``{"params": EMA state dict, "model_config": {...}}``, float32, nothing
else: no optimiser, no RNG state) and ``models/weights/<name>.json`` (the run's config, the last logged values,
the validation curve, the data description, the toolkit version and the file's SHA-256). Refuses to overwrite
a shipped file unless ``--replace``.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.core.files import save_torch_atomic, write_text_atomic  # noqa: E402
from simulator.core.weights import sha256_of  # noqa: E402


def _log(run: Path) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    with open(run / "log.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            series.setdefault(row["key"], []).append((int(row["step"]), float(row["value"])))
    return series


def ship(run: Path, name: str, data: str, replace: bool = False) -> Path:
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True, map_location="cpu")
    target = ROOT / "models" / "weights" / f"{name}.pth"
    if target.exists() and not replace:
        raise SystemExit(f"{target}: exists; pass --replace to overwrite it")
    params = state.get("params_ema") or state["params"]
    save_torch_atomic(target, {"params": {k: v.float() for k, v in params.items()}, "model_config": state["model_config"]})
    series = _log(run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    card = {"file": target.name, "sha256": sha256_of(target), "bytes": target.stat().st_size,
            "model": state["model_config"], "step": int(state["scheduler"]["step"]),
            "iters_planned": config["train"]["iters"], "data": data, "config": config,
            "pretrained_parts": state.get("pretrained_parts", {}),
            "validation": {k: v for k, v in series.items() if k.startswith("val_")},
            "last_loss": series.get("loss", [(0, float("nan"))])[-1],
            "seconds_per_step": series.get("step_s", [(0, float("nan"))])[-1][1]}
    write_text_atomic(target.with_suffix(".json"), json.dumps(card, indent=1) + "\n")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", required=True, help="one line: what the run was trained on")
    parser.add_argument("--replace", action="store_true")
    args = parser.parse_args()
    target = ship(args.run, args.name, args.data, args.replace)
    print(f"{target} sha256 {sha256_of(target)} ({target.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
