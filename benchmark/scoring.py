"""Scoring a submission (a folder or a flat .zip of 16-bit PNGs) against ground truth, under a protocol.

What is compared with what:

* **Outputs** are ``<scene>-<frame>.png`` (``protocol.file_pattern``), uint16 RGB, the ground truth's size
  (the published test script zero-pads its outputs back to that size). See :mod:`benchmark.archive` for
  what a submission may contain.
* **Ground truth** is either a dataset in the published layout, ``<root>/Test/<scene>/<frame>/rgb_vis_gt.png``
  (``root`` may be the dataset root holding ``Test/`` or the split folder itself), or a flat folder of
  ``<scene>-<frame>.png`` files. Samples with ``raw_gt.npy`` but no ``rgb_vis_gt.png`` (``simulate``'s
  default) have it rendered once into the toolkit's cache (``benchmark.ground_truth``), as ``bench`` does.
* Every output must have a ground-truth image and vice versa; a subset of the test set is fine (scored
  subsets are common), but the ground truth then decides which names are expected, and a count different
  from ``protocol.expected_count`` is reported as a warning.
* Both images lose ``protocol.crop`` pixels on every side, then each metric of ``protocol.metrics`` is
  computed. A metric that cannot run here (e.g. LPIPS without its weights) is reported as unavailable, with
  the reason, and its values are None; it never fails the score.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from tqdm.auto import tqdm

from benchmark import tables
from benchmark.archive import ArchiveLimits, is_junk, open_submission
from benchmark.images import check_png16, crop_border, read_png16, write_bytes_atomic
from benchmark.metrics import MetricUnavailableError, create_metric, set_metric_threads
from benchmark.protocols import Protocol, get_protocol
from simulator.core.errors import DataError

GT_FILE = "rgb_vis_gt.png"
SPLIT = "Test"
LIST_LIMIT = 10  # names shown in a "missing / unexpected" message before "... and N more"


@dataclass
class ScoreResult:
    """The score of one submission.

    Attributes:
        protocol: ``name@version`` of the protocol used.
        metrics: metric names, in table order (unavailable ones included).
        count: images scored.
        mean: metric -> mean over images (None when unavailable; ``inf`` when any PSNR is infinite).
        per_image: one dict per image, sorted by name: ``name``, ``scene``, ``frame`` and metric -> float or
            None. PSNR is ``inf`` for identical (cropped) images.
        unavailable: metric -> why it could not be computed.
        warnings: notes that do not invalidate the score (e.g. a partial test set).
    """

    protocol: str
    metrics: tuple[str, ...]
    count: int
    mean: dict[str, float | None]
    per_image: list[dict[str, Any]]
    unavailable: dict[str, str] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of :meth:`to_json`, as Python objects (already JSON-safe)."""
        return {
            "protocol": self.protocol,
            "count": self.count,
            "mean": {name: _json_number(value) for name, value in self.mean.items()},
            "per_image": [
                {key: (_json_number(value) if key in self.metrics else value) for key, value in row.items()}
                for row in self.per_image
            ],
            "unavailable": dict(self.unavailable),
            "warnings": list(self.warnings),
        }

    def to_json(self, indent: int | None = 2) -> str:
        """Strict JSON: ``{"protocol", "count", "mean", "per_image", "unavailable", "warnings"}``.

        JSON has no infinity, so an infinite PSNR (identical images) is written as the string ``"inf"``,
        which ``float()`` reads back as ``inf``; ``null`` always means *unavailable* (see ``unavailable``).
        NaN never occurs for the protocols' metrics; if one did, it would be written as ``null``.
        """
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_frame(self) -> pd.DataFrame:
        """Per-image table: columns ``name, scene, frame, *metrics`` (unavailable -> NaN)."""
        return tables.per_image_table(self.per_image, self.metrics)

    def per_scene(self) -> pd.DataFrame:
        """Per-scene table: columns ``scene, frames, *metrics``, means over each scene's frames."""
        return tables.per_scene_table(self.to_frame(), self.metrics)

    def to_markdown(self) -> str:
        """Means, then per-scene means, as Markdown tables (4 decimals; ``n/a`` for unavailable)."""
        means = tables.to_markdown(tables.means_table(self.mean, self.count, self.protocol))
        scenes = tables.to_markdown(self.per_scene())
        return f"{means}\n\nPer scene:\n\n{scenes}\n"

    def write_json(self, path: str | os.PathLike[str]) -> None:
        """Write :meth:`to_json` to ``path`` atomically."""
        write_bytes_atomic(path, (self.to_json() + "\n").encode("utf-8"))

    def write_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the per-image table as CSV to ``path`` atomically (whatever its suffix)."""
        write_bytes_atomic(path, tables.to_csv(self.to_frame()).encode("utf-8"))

    def notes(self) -> list[str]:
        """One-line notes for a terminal: unavailable metrics (one line), then each warning."""
        lines = []
        if self.unavailable:
            reasons = "; ".join(f"{name}: {why}" for name, why in self.unavailable.items())
            lines.append(f"note: metrics not computed (shown as n/a): {reasons}")
        return lines + [f"warning: {text}" for text in self.warnings]


def score(
    submission: str | os.PathLike[str],
    gt: str | os.PathLike[str],
    protocol: Protocol | str = "bracketire",
    workers: int | None = None,
    progress: bool | None = None,
    limits: ArchiveLimits | None = None,
) -> ScoreResult:
    """Score a submission folder or flat .zip against ground truth.

    Args:
        submission: folder or ``.zip`` of ``<scene>-<frame>.png`` uint16 RGB files.
        gt: dataset root (holding ``Test/``), split folder, or flat folder of ``<scene>-<frame>.png``.
        protocol: a :class:`Protocol` or a registered protocol name.
        workers: images scored in parallel (threads); ``min(4, CPU count)`` when None.
        progress: show a progress bar on stderr; when None, only if stderr is a terminal.
        limits: what an archive may contain (see :class:`benchmark.archive.ArchiveLimits`).

    Returns:
        The :class:`ScoreResult`.

    Raises:
        DataError: a malformed submission, missing or unexpected file names, a size mismatch, an
            unreadable or non-16-bit PNG, or ground truth that cannot be found.
    """
    protocol = get_protocol(protocol) if isinstance(protocol, str) else protocol
    workers = workers if workers is not None else min(4, os.cpu_count() or 1)
    if workers < 1:
        raise DataError(f"workers = {workers}: expected at least 1")
    from benchmark.ground_truth import scorable_ground_truth  # here: that module builds on this one

    truth = find_ground_truth(scorable_ground_truth(gt, protocol), protocol)
    warnings = []
    if protocol.expected_count is not None and len(truth) != protocol.expected_count:
        warnings.append(
            f"{len(truth)} ground-truth images in {gt}; the full test set of {protocol.tag} has "
            f"{protocol.expected_count}, so this score is not comparable with full-test-set results"
        )
    sizes = {name: _size(ground) for name, ground in truth.items()}

    def check_names(names: list[str]) -> None:
        _check_names(submission, gt, names, truth, protocol)

    with open_submission(submission, limits, expected=sizes, check_names=check_names) as outputs:
        labels = {name: f"{submission}: {name}" for name in outputs}
        _check_sizes(outputs, truth, labels)
        metrics, unavailable = _create_metrics(protocol.metrics)  # after the cheap checks: LPIPS loads weights
        names = sorted(truth)
        job = _image_scorer(outputs, truth, labels, protocol, metrics)
        rows = _run_parallel(job, names, workers, progress)
    for row in rows:
        row.update({name: None for name in unavailable})
    rows = [{key: row[key] for key in ("name", "scene", "frame", *protocol.metrics)} for row in rows]
    mean = {name: (None if name in unavailable else _mean([row[name] for row in rows])) for name in protocol.metrics}
    return ScoreResult(protocol.tag, tuple(protocol.metrics), len(rows), mean, rows, unavailable, warnings)


@dataclass(frozen=True)
class GroundTruth:
    """One ground-truth image: where it is and which scene and frame it shows."""

    path: Path
    scene: str
    frame: str


def find_ground_truth(gt: str | os.PathLike[str], protocol: Protocol) -> dict[str, GroundTruth]:
    """Ground-truth images by expected output name (``protocol.file_pattern``), sorted by name.

    Accepts ``<root>/Test/<scene>/<frame>/rgb_vis_gt.png`` given ``<root>`` or ``<root>/Test``, or a flat
    folder of ``<scene>-<frame>.png``. In the published layout every frame folder must hold ``rgb_vis_gt.png``.

    Raises:
        DataError: naming the folder, when no ground truth is found or a frame folder lacks its image.
    """
    root = Path(gt)
    if not root.is_dir():
        raise DataError(f"{root}: ground truth must be a folder (dataset root, its {SPLIT}/ split, or flat PNGs)")
    split = root / SPLIT if (root / SPLIT).is_dir() else root
    flat = sorted(p for p in split.glob("*.png") if p.is_file() and not is_junk(p.name))
    if flat:
        pattern = _name_regex(protocol.file_pattern)
        found = {}
        for path in flat:
            match = pattern.fullmatch(path.name)
            if match is None:
                raise DataError(f"{path}: ground-truth name does not match {_readable(protocol.file_pattern)}")
            found[path.name] = GroundTruth(path, match["scene"], match["frame"])
        return found
    found = {}
    for scene in sorted(d for d in split.iterdir() if d.is_dir() and not is_junk(d.name)):
        for frame in sorted(d for d in scene.iterdir() if d.is_dir() and not is_junk(d.name)):
            path = frame / GT_FILE
            if not path.is_file():
                raise DataError(f"{frame}: no {GT_FILE} (nor raw_gt.npy to render it from); expected {split}/<scene>/<frame>/{GT_FILE}")
            name = protocol.file_pattern.format(scene=scene.name, frame=frame.name)
            found[name] = GroundTruth(path, scene.name, frame.name)
    if not found:
        raise DataError(
            f"{root}: no ground truth found; expected {SPLIT}/<scene>/<frame>/{GT_FILE} or flat "
            f"{_readable(protocol.file_pattern)} files"
        )
    return dict(sorted(found.items()))


def _name_regex(file_pattern: str) -> re.Pattern[str]:
    """``"{scene}-{frame}.png"`` -> a regex with groups ``scene`` (greedy) and ``frame`` (after the last '-')."""
    parts = re.split(r"(\{scene\}|\{frame\})", file_pattern)
    groups = {"{scene}": "(?P<scene>.+)", "{frame}": "(?P<frame>.+?)"}
    return re.compile("".join(groups.get(part, re.escape(part)) for part in parts))


def _readable(file_pattern: str) -> str:
    """``"{scene}-{frame}.png"`` -> ``"<scene>-<frame>.png"`` for messages."""
    return file_pattern.replace("{", "<").replace("}", ">")


def _short_list(names: list[str]) -> str:
    shown = ", ".join(names[:LIST_LIMIT])
    return shown + (f", ... and {len(names) - LIST_LIMIT} more" if len(names) > LIST_LIMIT else "")


def _size(ground: GroundTruth) -> tuple[int, int]:
    """``(height, width)`` of a ground-truth image, from its header (checked to be a 16-bit RGB PNG)."""
    header = check_png16(ground.path)
    return header.height, header.width


def _check_names(
    submission: object, gt: object, outputs: Collection[str], truth: Mapping[str, GroundTruth], protocol: Protocol
) -> None:
    missing = sorted(set(truth) - set(outputs))
    unexpected = sorted(set(outputs) - set(truth))
    if not (missing or unexpected):
        return
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing file(s): {_short_list(missing)}")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected file(s): {_short_list(unexpected)}")
    expected = _readable(protocol.file_pattern)
    raise DataError(f"{submission}: {'; '.join(problems)} (expected one {expected} per ground-truth image in {gt})")


def _check_sizes(outputs: Mapping[str, Path], truth: Mapping[str, GroundTruth], labels: Mapping[str, str]) -> None:
    """Check formats and sizes from the PNG headers before decoding anything (cheap; refuses absurd sizes)."""
    for name in sorted(truth):
        out = check_png16(outputs[name], labels[name])
        ref = check_png16(truth[name].path)
        if (out.height, out.width) != (ref.height, ref.width):
            raise DataError(
                f"{labels[name]}: image is {out.height}x{out.width}; the ground truth {truth[name].path} is "
                f"{ref.height}x{ref.width} (height x width)"
            )


def _create_metrics(names: tuple[str, ...]) -> tuple[dict[str, Callable[..., float]], dict[str, str]]:
    metrics, unavailable = {}, {}
    for name in names:
        try:
            metrics[name] = create_metric(name)
        except MetricUnavailableError as err:
            unavailable[name] = str(err)
    return metrics, unavailable


def _image_scorer(
    outputs: Mapping[str, Path],
    truth: Mapping[str, GroundTruth],
    labels: Mapping[str, str],
    protocol: Protocol,
    metrics: Mapping[str, Callable[..., float]],
) -> Callable[[str], dict[str, Any]]:
    """The per-image job: read both PNGs, crop, compute every available metric."""

    def job(name: str) -> dict[str, Any]:
        gt = truth[name]
        output = read_png16(outputs[name], label=labels[name])
        reference = read_png16(gt.path)
        if output.shape != reference.shape:
            raise DataError(f"{labels[name]}: image has shape {output.shape}; the ground truth has {reference.shape}")
        row: dict[str, Any] = {"name": name, "scene": gt.scene, "frame": gt.frame}
        try:
            output, reference = crop_border(output, protocol.crop), crop_border(reference, protocol.crop)
            row.update({metric: float(fn(output, reference)) for metric, fn in metrics.items()})
        except DataError as err:  # e.g. an image too small for the crop or the SSIM window: say which one
            raise DataError(f"{labels[name]}: {err}") from None
        return row

    return job


def _run_parallel(
    job: Callable[[str], dict[str, Any]], names: list[str], workers: int, progress: bool | None
) -> list[dict[str, Any]]:
    """``[job(name) for name in names]`` on ``workers`` threads, in order; the first error cancels the rest."""
    bar = tqdm(total=len(names), desc="scoring", unit="img", disable=None if progress is None else not progress)
    try:
        if workers == 1:
            rows = []
            for name in names:
                rows.append(job(name))
                bar.update()
            return rows
        share = max(1, (os.cpu_count() or 1) // workers)  # pool threads x metric threads <= cores
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="score", initializer=_limit_threads,
                                initargs=(share,)) as pool:
            futures = [pool.submit(job, name) for name in names]
            rows = []
            try:
                for future in futures:
                    rows.append(future.result())
                    bar.update()
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
            return rows
    finally:
        bar.close()


def _limit_threads(threads: int) -> None:
    """Pool-thread initializer: metrics and torch operations called from this thread use ``threads``."""
    set_metric_threads(threads)
    torch.set_num_threads(threads)  # with torch's OpenMP backend this applies to the calling thread only


def _mean(values: list[float | None]) -> float | None:
    """Mean of per-image values (``inf`` if any is ``inf``); None if empty or any is None."""
    if not values or any(v is None for v in values):
        return None
    if any(math.isinf(v) for v in values):
        return float(sum(values))  # inf (or nan for inf - inf, which the protocols' metrics never give)
    return math.fsum(values) / len(values)


def _json_number(value: Any) -> Any:
    """A metric value for strict JSON: finite floats as they are, ``inf`` -> ``"inf"``, NaN / None -> null."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value
