"""Import published results (``shared/leaderboard_sources``-style CSVs) into the toolkit's tidy table.

The sources keep rank, FLOPs, runtime, memory, the 16-px-cropped Track 2 values and the read / inferred
flag inside a free-text ``notes`` column; here they become columns. Cropped values become rows of their
own under protocol ``ntire2024_crop16@1`` (the challenge test set with a 16 px border excluded), so a
full-image number is never ranked against a cropped one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

COLUMNS = [
    "model", "task", "protocol", "rank", "psnr", "ssim", "lpips", "params_m", "flops_t", "runtime_s", "memory_gb",
    "hardware", "source", "read_or_inferred", "remark", "date", "weights_sha256", "data_sha256",
]
NTIRE2024_HARDWARE = "RTX A6000 (1920x1080 output, as reported by the challenge)"
NTIRE2024_DATE = "2024-04"
_FIELDS = {"FLOPs_T": "flops_t", "time_s": "runtime_s", "mem_GB": "memory_gb", "rank": "rank"}


def _note_fields(notes: str) -> dict[str, object]:
    parts = [p.strip() for p in str(notes).split(";")]
    fields: dict[str, object] = {}
    remarks = []
    for part in parts:
        key, sep, value = part.partition("=")
        if sep and key.strip() in _FIELDS:
            fields[_FIELDS[key.strip()]] = float(value)
        elif part.startswith("cropped-16px:"):
            fields["cropped"] = [float(v) for v in re.findall(r"[\d.]+", part.split(":", 1)[1].split("(")[0])[:3]]
        elif part:
            remarks.append(part)
    fields["read_or_inferred"] = "inferred" if "INFERRED" in str(notes) else "read"
    fields["remark"] = "; ".join(remarks)
    return fields


def import_ntire2024(path: str | Path, task: str) -> pd.DataFrame:
    """One track's published CSV -> tidy rows (``task`` is ``bracketire`` or ``bracketire_plus``)."""
    source = pd.read_csv(path)
    rows = []
    for record in source.to_dict("records"):
        fields = _note_fields(record["notes"])
        base = {
            "model": record["method"], "task": task, "protocol": "ntire2024@1", "rank": fields.get("rank"),
            "psnr": record["psnr"], "ssim": record["ssim"], "lpips": record["lpips"], "params_m": record["params_m"],
            "flops_t": fields.get("flops_t"), "runtime_s": fields.get("runtime_s"), "memory_gb": fields.get("memory_gb"),
            "hardware": NTIRE2024_HARDWARE, "source": record["source"], "read_or_inferred": fields["read_or_inferred"],
            "remark": fields["remark"], "date": NTIRE2024_DATE,
        }
        rows.append(base)
        if "cropped" in fields:
            psnr, ssim, lpips = fields["cropped"]
            rows.append({**base, "protocol": "ntire2024_crop16@1", "psnr": psnr, "ssim": ssim, "lpips": lpips})
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table["rank"] = table["rank"].astype("Int64")
    return table
