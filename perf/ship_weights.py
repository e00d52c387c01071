"""Export a finished (or stopped) run's EMA weights as a shipped weight file, with its card.

    python perf/ship_weights.py RUN --name spynet_bracketire --data "what it was trained on"

writes ``models/weights/<name>.pth`` (``{"params": EMA state dict, "model_config": {...}}``, float32, nothing
else: no optimiser, no RNG state) and ``models/weights/<name>.json`` (the run's config, the last logged values,
the validation curve, the data description, the toolkit version and the file's SHA-256). ``--bench A.json
B.json ...`` adds what ``bench --json`` measured (each document's label, data, mean scores, runtime and hardware)
under ``benchmarks``: run the weights on the test sets first, then ship them with their numbers. Refuses to
overwrite a shipped file unless ``--replace``.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import sys
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from simulator.core.files import write_atomic, write_text_atomic  # noqa: E402
from simulator.core.weights import sha256_of  # noqa: E402


def _log(run: Path) -> dict[str, list[tuple[int, float]]]:
    series: dict[str, list[tuple[int, float]]] = {}
    with open(run / "log.csv", newline="") as handle:
        for row in csv.DictReader(handle):
            series.setdefault(row["key"], []).append((int(row["step"]), float(row["value"])))
    return series


def _bench_summary(path: Path) -> dict:
    """One ``bench --json`` document reduced to what a card needs."""
    doc = json.loads(path.read_text())
    return {"model": doc["model"], "label": doc["label"], "protocol": doc["protocol"], "count": doc["count"],
            "mean": doc["mean"], "data": doc["data"], "weights_sha256": (doc.get("weights") or {}).get("sha256"),
            "runtime_s_per_image": doc["runtime"].get("median_s"), "hardware": doc["runtime"].get("hardware")}


def ship(run: Path, name: str, data: str, replace: bool = False, benches: tuple[Path, ...] = (),
         folder: Path = ROOT / "models" / "weights") -> Path:
    """Write ``<folder>/<name>.pth`` and its card; every ``benches`` document must be of these very bytes."""
    state = torch.load(run / "checkpoints" / "last.pt", weights_only=True, map_location="cpu")
    target = folder / f"{name}.pth"
    if target.exists() and not replace:
        raise SystemExit(f"{target}: exists; pass --replace to overwrite it")
    params = state.get("params_ema") or state["params"]
    buffer = io.BytesIO()
    torch.save({"params": {k: v.float() for k, v in params.items()}, "model_config": state["model_config"]}, buffer)
    payload = buffer.getvalue()
    digest = hashlib.sha256(payload).hexdigest()
    series = _log(run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    card = {"file": target.name, "sha256": digest, "bytes": len(payload),
            "model": state["model_config"], "step": int(state["scheduler"]["step"]),
            "iters_planned": config["train"]["iters"], "data": data, "config": config,
            "pretrained_parts": state.get("pretrained_parts", {}),
            "validation": {k: v for k, v in series.items() if k.startswith("val_")},
            "last_loss": series.get("loss", [(0, float("nan"))])[-1],
            "seconds_per_step": series.get("step_s", [(0, float("nan"))])[-1][1],
            "benchmarks": [_bench_summary(path) for path in benches]}
    stale = [str(path) for path, doc in zip(benches, card["benchmarks"]) if doc["weights_sha256"] != digest]
    if stale:  # checked before anything is written
        raise SystemExit(f"{', '.join(stale)}: benched other weights than {target.name} (sha256 {digest[:12]}); "
                         f"bench the shipped file, then ship again with --replace --bench")
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(target, payload)
    write_text_atomic(target.with_suffix(".json"), json.dumps(card, indent=1) + "\n")
    return target


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--name", required=True)
    parser.add_argument("--data", required=True, help="one line: what the run was trained on")
    parser.add_argument("--replace", action="store_true")
    parser.add_argument("--bench", type=Path, nargs="*", default=[], help="bench --json documents of these weights")
    parser.add_argument("--to", type=Path, default=ROOT / "models" / "weights", help="folder (default: models/weights)")
    args = parser.parse_args()
    target = ship(args.run, args.name, args.data, args.replace, tuple(args.bench), args.to)
    print(f"{target} sha256 {sha256_of(target)} ({target.stat().st_size / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
