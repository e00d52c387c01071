"""From a source configuration to the list of scenes to simulate and their pixels.

Scene sources (``source.name``) are entries of :data:`SCENE_SOURCES`, each a :class:`SceneSource` subclass:

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

A user adds a source from their own file (``--plugin``)::

    @SCENE_SOURCES.register("gradient")
    class Gradient(SceneSource):
        \"\"\"A horizontal ramp (no files needed).\"\"\"
        needs_path = False
        def scenes(self, config): return numbered_scenes(config, "gradient")
        def frames(self, config, spec, generator): ...   # [K, 3, H, W] float32 linear sRGB, >= 0

Scene and frame names never contain ``-`` (submission files are named ``<scene>-<frame>.png``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from simulator.core.errors import DataError
from simulator.core.registry import Registry
from simulator.core.threads import one_thread
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


@dataclass(frozen=True)
class SceneSpec:
    """One sample to simulate: its index (for its seed), names, and source files (none for builtin)."""

    index: int
    scene: str
    frame: str
    paths: tuple[str, ...] = ()


class SceneSource:
    """A kind of scene: which samples a configuration asks for, and each one's pixels.

    Subclasses set ``needs_path`` (whether ``source.path`` must name a file or folder) and implement
    :meth:`scenes` and :meth:`frames`; they are registered in :data:`SCENE_SOURCES` by name.
    """

    needs_path: bool = True

    def scenes(self, config: SimulationConfig) -> list[SceneSpec]:
        """The samples ``config`` asks for, in a fixed order (at most ``config.num_samples``)."""
        raise NotImplementedError

    def frames(self, config: SimulationConfig, spec: SceneSpec, generator: torch.Generator) -> torch.Tensor:
        """One sample's pixels: ``[K, 3, h, w]`` float32 linear sRGB, >= 0, at least the output size.

        ``generator`` is the sample's own (procedural sources draw from it first). K = 1 for stills.
        """
        raise NotImplementedError


def numbered_scenes(config: SimulationConfig, scene: str) -> list[SceneSpec]:
    """``num_samples`` scenes named ``scene``, frames ``000000``, ``000001``, ... (procedural sources)."""
    return [SceneSpec(i, scene, f"{i:06d}") for i in range(config.num_samples)]


class DeadLeaves(SceneSource):
    """dead-leaves HDR night scenes, layered (default; no files needed)"""

    needs_path = False

    def scenes(self, config: SimulationConfig) -> list[SceneSpec]:
        return numbered_scenes(config, "builtin")

    def frames(self, config: SimulationConfig, spec: SceneSpec, generator: torch.Generator) -> torch.Tensor:
        width, height = config.output.size
        if config.motion.model == "video":
            return dead_leaves_video(height, width, config.source.frames_per_group, generator)
        return dead_leaves_scene(height, width, generator)[None]


class Shapes(SceneSource):
    """the first procedural scenes: noise, stripes, rectangles, discs, lamps (no files needed)"""

    needs_path = False

    def scenes(self, config: SimulationConfig) -> list[SceneSpec]:
        return numbered_scenes(config, "shapes")

    def frames(self, config: SimulationConfig, spec: SceneSpec, generator: torch.Generator) -> torch.Tensor:
        width, height = config.output.size
        return builtin_scene(height, width, generator)[None]


class Photos(SceneSource):
    """colour photographs shipped in scikit-image (public domain / CC0), linearised; needs scikit-image"""

    needs_path = False

    def scenes(self, config: SimulationConfig) -> list[SceneSpec]:
        from simulator.photos import photo_names

        return [SceneSpec(i, name, "000000") for i, name in enumerate(photo_names()[: config.num_samples])]

    def frames(self, config: SimulationConfig, spec: SceneSpec, generator: torch.Generator) -> torch.Tensor:
        from simulator.photos import load_photo

        return load_photo(spec.scene, config.source.highlight_gain)[None]


def _clean_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.]", "_", text)


def _files(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise DataError(f"{path}: source path does not exist")
    return sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in suffixes)


def _source_root(config: SimulationConfig) -> Path:
    if config.source.path is None:
        raise DataError(f"source.name={config.source.name} needs source.path (a file or folder)")
    return Path(config.source.path)


def _hdr_frames(config: SimulationConfig, paths: tuple[str, ...]) -> torch.Tensor:
    """HDR files -> ``[K, 3, h, w]`` linear sRGB (converted from ALEXA Wide Gamut when configured)."""
    source = config.source
    frames = torch.stack([read_hdr_image(p, source.min_size) for p in paths])
    if source.colorspace == "alexa_wide_gamut":
        frames = alexa_wide_gamut_to_srgb(frames, matrix=source.awg_matrix)
    return frames


class _OneFilePerSample(SceneSource):
    """Shared listing of the ``hdr`` and ``ldr`` sources: one sample per image file, scene = file stem."""

    kind = ""
    suffixes: tuple[str, ...] = ()

    def scenes(self, config: SimulationConfig) -> list[SceneSpec]:
        root = _source_root(config)
        files = _files(root, self.suffixes)
        if not files:
            raise DataError(f"{root}: no {self.kind} images found")
        return [SceneSpec(i, _clean_name(p.stem), "000000", (str(p),)) for i, p in enumerate(files[: config.num_samples])]


class HdrStills(_OneFilePerSample):
    """HDR stills: .exr, .hdr, .pfm, float .npy"""

    kind = "HDR"
    suffixes = HDR_SUFFIXES

    def frames(self, config: SimulationConfig, spec: SceneSpec, generator: torch.Generator) -> torch.Tensor:
        return _hdr_frames(config, spec.paths)


class LdrPhotos(_OneFilePerSample):
    """sRGB photos, linearised, optional synthetic highlights"""

    kind = "LDR"
    suffixes = LDR_SUFFIXES

    def frames(self, config: SimulationConfig, spec: SceneSpec, generator: torch.Generator) -> torch.Tensor:
        return read_ldr_image(spec.paths[0], config.source.highlight_gain, config.source.min_size)[None]


class VideoClips(SceneSource):
    """folders of HDR video frames (e.g. HdM-HDR-2014 clips)"""

    def scenes(self, config: SimulationConfig) -> list[SceneSpec]:
        root = _source_root(config)
        clips = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        clips = clips or [root]
        specs: list[SceneSpec] = []
        group = config.source.frames_per_group
        for clip in clips:
            frames = _files(clip, HDR_SUFFIXES)
            for start in range(0, len(frames) - group + 1, group):
                first = frames[start].stem
                number = re.search(r"(\d+)$", first)
                specs.append(SceneSpec(len(specs), _clean_name(clip.name), number.group(1) if number else f"{start:06d}",
                                       tuple(str(p) for p in frames[start : start + group])))
        if not specs:
            raise DataError(f"{root}: no clip with at least {group} HDR frames (source.frames_per_group)")
        return specs[: config.num_samples]

    def frames(self, config: SimulationConfig, spec: SceneSpec, generator: torch.Generator) -> torch.Tensor:
        return _hdr_frames(config, spec.paths)


SCENE_SOURCES = Registry("scene source", {  # name -> a SceneSource subclass (``source.name``)
    "builtin": "simulator.scenes:DeadLeaves",
    "shapes": "simulator.scenes:Shapes",
    "photos": "simulator.scenes:Photos",
    "hdr": "simulator.scenes:HdrStills",
    "ldr": "simulator.scenes:LdrPhotos",
    "video": "simulator.scenes:VideoClips",
})


def scene_source(config: SimulationConfig) -> SceneSource:
    """The configured source (``source.name``); an unknown name raises ``UnknownNameError`` with a did-you-mean."""
    return SCENE_SOURCES[config.source.name]()


def list_scene_specs(config: SimulationConfig) -> list[SceneSpec]:
    """The samples a configuration asks for, in a fixed order (at most ``num_samples``)."""
    return scene_source(config).scenes(config)


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
    """The scene's pixels at the output size: ``[K, 3, H, W]`` float32 linear sRGB, >= 0.

    Computed on one thread: torch's multi-threaded kernels sum in an order that depends on the thread count,
    and a 640x384 dead-leaves scene then differed by 5e-7, enough to flip 1 DN in the RAW frames, so the same
    seed gave other bytes (another ``data_sha256``) with ``--workers 1`` than with ``--workers 2``.
    """
    width, height = config.output.size
    with one_thread():
        frames = scene_source(config).frames(config, spec, generator)
        frames = fit_to_size(frames, height, width, spec.paths[0] if spec.paths else spec.scene)
    if config.source.scale != 1.0:
        frames = frames * config.source.scale
    return frames.masked_fill(frames < 1e-30, 0.0)  # denormal floats would slow every later step many times
