"""From a source configuration to the list of scenes to simulate and their pixels.

Sources (``source.name``):

* ``builtin`` — ``num_samples`` dead-leaves night scenes (:mod:`simulator.deadleaves`), scene name ``builtin``,
  frames ``000000``, ``000001``, ... With ``motion.model=video`` each is a clip of ``source.frames_per_group``
  frames whose depth layers move at their own velocities (near ones faster).
* ``shapes`` — the toolkit's first procedural scenes (smooth noise, stripes, rectangles, discs, lamps; see
  :func:`simulator.sources.builtin_scene`), scene name ``shapes``; kept so that older results can be rebuilt.
* ``photos`` — the colour photographs shipped in scikit-image (:mod:`simulator.photos`, each licence listed
  there), linearised like ``ldr``; scene = the photo's name. Needs scikit-image.
* ``hdr`` — HDR stills (``.exr``, ``.hdr``, ``.pfm``, ``.npy``): ``source.path`` is a file or a folder; one
  sample per file, scene = file stem.
* ``ldr`` — sRGB photos (``.png``, ``.jpg``, ``.tif``), linearised; one sample per file.
* ``video`` — a folder of clips, each a folder of HDR frames (or one clip folder): one sample per group of
  ``source.frames_per_group`` consecutive frames, scene = clip name, frame = the first frame's number, as
  the published generator names them.

Scene and frame names never contain ``-`` (submission files are named ``<scene>-<frame>.png``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from simulator.core.errors import DataError
from simulator.deadleaves import dead_leaves_scene, dead_leaves_video
from simulator.settings import SimulationConfig
from simulator.sources import (
    HDR_SUFFIXES,
    LDR_SUFFIXES,
    alexa_wide_gamut_to_srgb,
    builtin_scene,
    read_hdr_image,
    read_ldr_image,
)

SOURCE_NAMES = ("builtin", "shapes", "photos", "hdr", "ldr", "video")
PROCEDURAL = ("builtin", "shapes")  # sources that need no files


@dataclass(frozen=True)
class SceneSpec:
    """One sample to simulate: its index (for its seed), names, and source files (none for builtin)."""

    index: int
    scene: str
    frame: str
    paths: tuple[str, ...] = ()


def _clean_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", text)


def _files(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: source path does not exist")
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def list_scene_specs(config: SimulationConfig) -> list[SceneSpec]:
    """The samples a configuration asks for, in a fixed order (at most ``num_samples``)."""
    source, limit = config.source, config.num_samples
    if source.name not in SOURCE_NAMES:
        from simulator.core.registry import unknown_name

        raise unknown_name("source", source.name, SOURCE_NAMES)
    if source.name in PROCEDURAL:
        return [SceneSpec(i, source.name, f"{i:06d}") for i in range(limit)]
    if source.name == "photos":
        from simulator.photos import photo_names

        return [SceneSpec(i, name, "000000") for i, name in enumerate(photo_names()[:limit])]
    if source.path is None:
        raise DataError(f"source.name={source.name} needs source.path (a file or folder)")
    root = Path(source.path)
    if source.name in ("hdr", "ldr"):
        files = _files(root, HDR_SUFFIXES if source.name == "hdr" else LDR_SUFFIXES)
        if not files:
            raise DataError(f"{root}: no {source.name.upper()} images found")
        return [SceneSpec(i, _clean_name(p.stem), "000000", (str(p),)) for i, p in enumerate(files[:limit])]
    clips = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    clips = clips or [root]
    specs: list[SceneSpec] = []
    group = source.frames_per_group
    for clip in clips:
        frames = _files(clip, HDR_SUFFIXES)
        for start in range(0, len(frames) - group + 1, group):
            first = frames[start].stem
            number = re.search(r"(\d+)$", first)
            specs.append(SceneSpec(len(specs), _clean_name(clip.name), number.group(1) if number else f"{start:06d}",
                                   tuple(str(p) for p in frames[start : start + group])))
    if not specs:
        raise DataError(f"{root}: no clip with at least {group} HDR frames (source.frames_per_group)")
    return specs[:limit]


def fit_to_size(image: torch.Tensor, height: int, width: int, name: str) -> torch.Tensor:
    """Scale down (area) until ``image`` just covers ``height x width``, then centre-crop. ``[..., 3, h, w]``."""
    in_h, in_w = image.shape[-2:]
    if in_h < height or in_w < width:
        raise DataError(f"{name}: is {in_w}x{in_h}; expected at least the output size {width}x{height}")
    factor = max(height / in_h, width / in_w)
    if factor < 1:
        size = (max(height, round(in_h * factor)), max(width, round(in_w * factor)))
        image = F.interpolate(image.reshape(-1, *image.shape[-3:]), size=size, mode="area").reshape(*image.shape[:-2], *size)
        in_h, in_w = size
    top, left = (in_h - height) // 2, (in_w - width) // 2
    return image[..., top : top + height, left : left + width].contiguous()


def load_scene_frames(config: SimulationConfig, spec: SceneSpec, generator: torch.Generator) -> torch.Tensor:
    """The scene's pixels at the output size: ``[K, 3, H, W]`` float32 linear sRGB, >= 0."""
    width, height = config.output.size
    source = config.source
    if source.name == "builtin" and config.motion.model == "video":
        frames = dead_leaves_video(height, width, source.frames_per_group, generator)
    elif source.name == "builtin":
        frames = dead_leaves_scene(height, width, generator)[None]
    elif source.name == "shapes":
        frames = builtin_scene(height, width, generator)[None]
    elif source.name == "photos":
        from simulator.photos import load_photo

        frames = load_photo(spec.scene, source.highlight_gain)[None]
    elif source.name == "ldr":
        frames = read_ldr_image(spec.paths[0], source.highlight_gain, source.min_size)[None]
    else:
        frames = torch.stack([read_hdr_image(p, source.min_size) for p in spec.paths])
        if source.colorspace == "alexa_wide_gamut":
            frames = alexa_wide_gamut_to_srgb(frames, matrix=source.awg_matrix)
    frames = fit_to_size(frames, height, width, spec.paths[0] if spec.paths else spec.scene)
    if source.scale != 1.0:
        frames = frames * source.scale
    return frames.masked_fill(frames < 1e-30, 0.0)  # denormal floats would slow every later step many times
