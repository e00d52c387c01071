"""Run a registered model over every bracket of an input and keep the results: ``cli.py predict``.

Per bracket (see :mod:`benchmark.outputs` for the folder): the protocol's 16-bit PNG ``png16/<name>.png``
(for synthetic / NTIRE inputs exactly what the published test script writes and ``score`` reads: the input
cropped by the test crop, the model, the published rendering, the zero border), an 8-bit sRGB preview and,
with ``save_hdr``, the linear HDR RAW result. Real / camera brackets go through their own measured exposure
ratios and the published real-world rendering (``simulator.real``). ``zip_path`` adds an NTIRE-style
submission: the flat PNGs plus a ``readme.txt`` with the fields the NTIRE challenges ask for.
"""

from __future__ import annotations

import io
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from benchmark.bench import TEST_CROP, load_model
from benchmark.images import write_bytes_atomic
from benchmark.inputs import Bracket, iter_brackets
from benchmark.outputs import OutputFolder, encode_png, preview_of
from benchmark.protocols import check_model_fits, get_protocol
from benchmark.render import render_png_array
from models.inference import tiled_forward
from models.run_checks import check_device
from simulator.core.errors import DataError
from simulator.core.weights import sha256_of

README = "readme.txt"
ZIP_DATE = (2024, 1, 1, 0, 0, 0)  # fixed entry dates: the same results give the same archive bytes


@dataclass
class PredictResult:
    """What a predict run did.

    Attributes:
        out: the output folder.
        layout: the input layout that was read.
        table: one row per bracket: ``name, frames, exposures, height, width, seconds, total_s, status``
            (``status`` "written" or "kept"; ``seconds``: the model's time, as the NTIRE readme reports it;
            ``total_s``: with reading, rendering and writing; NaN when kept).
        zip_path: the submission archive, when one was made.
    """

    out: Path
    layout: str
    table: pd.DataFrame
    zip_path: Path | None = None

    def summary(self) -> str:
        """One line: counts, mean seconds per written bracket, where things are."""
        written = int((self.table["status"] == "written").sum())
        kept = len(self.table) - written
        mean = self.table["seconds"].mean()
        timing = f", {mean:.3f} s per bracket" if written else ""
        where = f"; submission {self.zip_path}" if self.zip_path else ""
        return f"{written} bracket(s) written, {kept} kept{timing}; results in {self.out}{where}"


def predict(
    model_name: str,
    input_path: str | os.PathLike[str],
    out: str | os.PathLike[str],
    weights: str | os.PathLike[str] | None = None,
    device: str = "cpu",
    tile: int | None = 256,
    memory_gb: float | None = None,
    save_hdr: bool = False,
    layout: str | None = None,
    group: int | None = None,
    protocol: str = "bracketire",
    zip_path: str | os.PathLike[str] | None = None,
    description: str | None = None,
    extra_data: bool = False,
    progress: bool = False,
) -> PredictResult:
    """Run ``model_name`` over every bracket at ``input_path`` and write the results into ``out``.

    Args:
        model_name: a registered model; its weights are found as ``bench`` finds them.
        input_path: a folder in one of the layouts of :mod:`benchmark.inputs`.
        out: the output folder (resumable: outputs already written and verified are kept).
        tile, memory_gb: tiled inference (see :func:`models.inference.tiled_forward`).
        save_hdr: also write ``hdr/<name>.npy``, the model's linear HDR RAW output, float32 ``(h, w, 4)``
            on the unit frame's scale (the scale of ``raw_gt.npy``).
        layout, group: see :func:`benchmark.inputs.iter_brackets`.
        protocol: the rendering protocol of synthetic / NTIRE inputs (test crop and zero border).
        zip_path: write an NTIRE-style submission archive there.
        description, extra_data: the readme's free description and extra-data flag.

    Raises:
        DataError: unreadable inputs, a bracket the model cannot take, a file in the way that this
            toolkit did not write, or an output folder of another run.
    """
    proto = get_protocol(protocol)
    check_device("--device", device)  # before any weights are read: no CUDA here is one line, exit 2
    model, found = load_model(model_name, weights, device)
    scale = getattr(model, "scale", 1)
    if protocol != "bracketire" or scale == 1:  # the default protocol follows a x4 model; one asked for must fit
        check_model_fits(proto, model_name, scale)
    layout, count, brackets = iter_brackets(input_path, layout, scale=scale, group=group)
    run = {"model": model_name, "weights_sha256": sha256_of(found)[:16] if found else "",
           "input": str(Path(input_path).resolve()), "layout": layout,
           "protocol": proto.tag, "tile": tile, "memory_gb": memory_gb, "device": device}
    folder = OutputFolder(out, run)
    seconds = folder.notes.setdefault("seconds", {})
    rows = []
    crop = TEST_CROP.get(proto.name, 5)
    for bracket in tqdm(brackets, total=count, desc="predict", unit="bracket", disable=not progress):
        names = [f"png16/{bracket.name}.png", f"preview/{bracket.name}.png"]
        names += [f"hdr/{bracket.name}.npy"] if save_hdr else []
        row = {"name": bracket.name, "frames": int(bracket.raws.shape[0]),
               "exposures": _exposure_text(bracket)}
        if folder.done(names):
            height, width = _png_size(folder.path(names[0]))
            rows.append({**row, "height": height, "width": width, "seconds": float("nan"), "total_s": float("nan"),
                         "status": "kept"})
            continue
        start = time.perf_counter()
        result, png, preview, elapsed = _run_bracket(model, bracket, proto, crop, tile, memory_gb, device)
        total = time.perf_counter() - start
        folder.write(names[0], encode_png(png))
        folder.write(names[1], encode_png(preview))
        if save_hdr:
            folder.write(names[2], _npy_bytes(result.permute(1, 2, 0).numpy().astype(np.float32)))
        seconds[bracket.name] = elapsed
        folder.save_manifest()
        rows.append({**row, "height": png.shape[0], "width": png.shape[1], "seconds": elapsed, "total_s": total,
                     "status": "written"})
    if not rows:
        raise DataError(f"{input_path}: no brackets found")
    table = pd.DataFrame(rows, columns=["name", "frames", "exposures", "height", "width", "seconds", "total_s",
                                        "status"])
    archive = None
    if zip_path is not None:
        per_image = [seconds[n] for n in table["name"] if n in seconds]
        runtime = float(np.mean(per_image)) if per_image else float("nan")
        text = readme_text(runtime, device, extra_data, description or _default_description(model_name, run))
        archive = write_submission(folder, [f"png16/{n}.png" for n in table["name"]], Path(zip_path), text)
        folder.save_manifest()
    return PredictResult(folder.root, layout, table, archive)


def _run_bracket(model: torch.nn.Module, bracket: Bracket, proto, crop: int, tile: int | None,
                 memory_gb: float | None, device: str) -> tuple[torch.Tensor, np.ndarray, np.ndarray, float]:
    """Model and rendering of one bracket -> (``[4, h, w]`` HDR RAW, 16-bit PNG, 8-bit preview, model seconds)."""
    raws = bracket.raws[None]
    real = bracket.meta is None
    if not real:  # the published test crop (the rendering puts a zero border back)
        if min(raws.shape[-2:]) <= 2 * crop:
            raise DataError(f"{bracket.source}: inputs of {tuple(raws.shape[-2:])} packed pixels are too small for "
                            f"the test crop of {crop}")
        raws = raws[..., crop:-crop, crop:-crop]
    start = time.perf_counter()
    try:
        out = tiled_forward(model, raws, tile=tile, memory_gb=memory_gb if tile is None else None, device=device,
                            exposures=bracket.exposures).clamp_min(0)[0].cpu()
    except ValueError as err:  # the model's input checks: wrong frame count, rank, size
        raise DataError(f"{bracket.source}: {err}") from None
    seconds = time.perf_counter() - start
    if real:
        from simulator.real import render_real  # noqa: PLC0415 (optional, needs rawpy)

        png, preview = render_real(out, bracket.render_info)
        return out, png, preview, seconds
    png = render_png_array(out, bracket.meta, padding=proto.padding, demosaicer=proto.demosaicer,
                           white_level=proto.white_level, mu=proto.mu)
    return out, png, preview_of(png, proto.padding), seconds


def _exposure_text(bracket: Bracket) -> str:
    if bracket.exposures is None:
        return "fixed ratio"
    return ", ".join(f"{float(e):.4g}" for e in bracket.exposures)


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def _png_size(path: Path) -> tuple[int, int]:
    from benchmark.images import png_header

    header = png_header(path)
    return header.height, header.width


def readme_text(runtime: float, device: str, extra_data: bool, description: str) -> str:
    """The NTIRE ``readme.txt``: runtime per image [s], CPU[1] / GPU[0], extra data [1] / [0], a description.

    The runtime has two decimals, as the challenge's example; under 5 ms it is written with three significant
    digits instead (``0.00`` would read as no time at all)."""
    cpu = 0 if str(device).startswith("cuda") else 1
    seconds = f"{runtime:.2f}" if runtime >= 0.005 or runtime == 0 else f"{runtime:.3g}"
    return (f"runtime per image [s] : {seconds}\n"
            f"CPU[1] / GPU[0] : {cpu}\n"
            f"Extra Data [1] / No Extra Data [0] : {1 if extra_data else 0}\n"
            f"Other description : {' '.join(description.split())}\n")


def _default_description(model_name: str, run: dict) -> str:
    weights = f" (weights sha256 {run['weights_sha256']})" if run["weights_sha256"] else ""
    return (f"{model_name}{weights}, run by the BracketIRE Toolkit's predict command on {run['device']}; "
            f"rendered with the {run['protocol']} protocol.")


def write_submission(folder: OutputFolder, pngs: list[str], zip_path: Path, readme: str) -> Path:
    """Write a flat NTIRE-style ``.zip`` of ``pngs`` (paths relative to ``folder``) plus ``readme.txt``.

    The archive is written atomically and recorded in the folder's manifest; an existing file at
    ``zip_path`` that this toolkit did not write is never replaced.

    Raises:
        DataError: ``zip_path`` is not a ``.zip`` name, or a foreign file is in the way.
    """
    if zip_path.suffix.lower() != ".zip":
        raise DataError(f"{zip_path}: expected a .zip file name for the submission")
    key = str(zip_path.resolve())
    if zip_path.exists() and not folder.ours(key):
        raise DataError(f"{zip_path}: exists and was not written by this run of bracketire; refusing to overwrite it")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for relative in sorted(pngs, key=lambda r: Path(r).name):
            info = zipfile.ZipInfo(Path(relative).name, ZIP_DATE)
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            archive.writestr(info, folder.path(relative).read_bytes())
        info = zipfile.ZipInfo(README, ZIP_DATE)
        info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
        archive.writestr(info, readme.encode("utf-8"))
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(zip_path, buffer.getvalue())
    folder.files[key] = sha256_of(zip_path)
    return zip_path
