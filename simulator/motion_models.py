"""Motion models: how the scene moves over a bracket (``motion.model``), one registry entry each.

A motion model is a :class:`MotionModel` subclass registered in :data:`MOTION_MODELS`. The pipeline builds one
per sample, after the camera and the ground truth are drawn (so its random draws come next, from the sample's
generator), then asks it for each exposure::

    model = MOTION_MODELS[config.motion.model](config, frames, windows, generator)
    exposed = model.expose(window, transform)      # [3, H, W]: transform() of the scene over the window
    model.lengths                                  # path length in pixels per exposure (sample.json)

Built in: ``none`` (a still camera), ``trajectory`` (a random hand-shake path, :mod:`simulator.motion`),
``video`` (real motion between consecutive frames of an HDR video source). A user registers their own from a
``--plugin`` file with ``@MOTION_MODELS.register("name")`` over a subclass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

from simulator.core.errors import ConfigError, DataError
from simulator.core.registry import Registry
from simulator.settings import SimulationConfig

Transform = Callable[[torch.Tensor], torch.Tensor]  # [3, H, W] linear sRGB -> [3, H, W] camera RGB (one sub-frame)
PairFrames = Callable[[list[float]], Iterable[torch.Tensor]]  # fractions in [0, 1] -> the frames between a pair


class MotionModel:
    """Motion of one sample over its bracket.

    Args:
        config: the simulation settings.
        frames: ``[K, 3, H, W]`` float32 linear sRGB scene at the output size (K > 1 only for video sources).
        windows: each exposure's ``(start, end)`` in sub-frames (:func:`simulator.exposure.exposure_windows`).
        generator: the sample's generator; draw everything random here, in a fixed order.
    """

    def __init__(self, config: SimulationConfig, frames: torch.Tensor, windows: list[tuple[float, float]],
                 generator: torch.Generator) -> None:
        self.config = config
        self.frames = frames
        self.lengths: list[float] = [0.0] * len(windows)  # camera path length per exposure, pixels

    @classmethod
    def check(cls, config: SimulationConfig) -> None:
        """Settings this model cannot work with, before any work starts (raises ``ConfigError``)."""

    def expose(self, window: tuple[float, float], transform: Transform) -> torch.Tensor:
        """``transform`` of the scene integrated over ``window``: ``[3, H, W]`` float32 camera RGB."""
        raise NotImplementedError


class StillCamera(MotionModel):
    """a still camera: every exposure sees the sharp scene"""

    def expose(self, window: tuple[float, float], transform: Transform) -> torch.Tensor:
        return transform(self.frames[0])


class HandShake(MotionModel):
    """a random hand-shake path over the bracket (blur kernels; warped sub-frames with motion.rotation)"""

    def __init__(self, config: SimulationConfig, frames: torch.Tensor, windows: list[tuple[float, float]],
                 generator: torch.Generator) -> None:
        from simulator.motion import path_length, sample_trajectory

        super().__init__(config, frames, windows, generator)
        low, high = config.motion.length
        length = low + (high - low) * float(torch.rand(1, generator=generator))
        self.trajectory = sample_trajectory(windows[-1][1], length, generator, rotation=config.motion.rotation)
        self.lengths = [path_length(self.trajectory, *w) for w in windows]

    def expose(self, window: tuple[float, float], transform: Transform) -> torch.Tensor:
        from simulator.motion import apply_kernel, render_subframes, trajectory_kernel

        scene = transform(self.frames[0])
        if self.config.motion.rotation > 0:
            return render_subframes(scene, self.trajectory, *window, count=self.config.motion.subframes).mean(0)
        return apply_kernel(scene, trajectory_kernel(self.trajectory, *window))


class VideoMotion(MotionModel):
    """real motion from an HDR video: interpolated frames averaged over each exposure (source.name=video)"""

    def __init__(self, config: SimulationConfig, frames: torch.Tensor, windows: list[tuple[float, float]],
                 generator: torch.Generator) -> None:
        if frames.shape[0] < 2:
            raise DataError("motion.model=video needs a video source (several frames per scene)")
        super().__init__(config, frames, windows, generator)
        self.pairs: dict[int, PairFrames] = {}  # source frame k -> its pair (k, k + 1), reused across windows

    @classmethod
    def check(cls, config: SimulationConfig) -> None:
        if config.source.name != "video":
            raise ConfigError(f"motion.model=video needs source.name=video (got source.name={config.source.name})")

    def expose(self, window: tuple[float, float], transform: Transform) -> torch.Tensor:
        return integrate_video(self.frames, window, transform, self.config, self.pairs)


def integrate_video(frames: torch.Tensor, window: tuple[float, float], transform: Transform,
                    config: SimulationConfig, pairs: dict[int, PairFrames] | None = None) -> torch.Tensor:
    """Mean of ``transform`` over the exposure's sub-frames (:func:`~simulator.exposure.video_subframe_times`).

    Sub-frame time ``s`` is source frame ``s / subframes_per_key``: a whole multiple is that source frame
    itself, anything else is interpolated between its two neighbours (with ``motion.video_peak=first_frame``
    both clipped at the first frame's peak first, as the published generator feeds its interpolator).
    Sub-frames are made and transformed one at a time. ``pairs`` (source frame -> prepared pair) keeps the
    pair an exposure ends in for the next exposure, which starts in it (its flows are computed once); pairs
    before this window are dropped.
    """
    from simulator.exposure import video_subframe_times
    from simulator.interpolate import pair_interpolator

    times = video_subframe_times(window, config.motion.video_timing, config.motion.subframes)
    spk = config.motion.subframes_per_key
    if times[-1] / spk > frames.shape[0] - 1:
        raise DataError(
            f"video source has {frames.shape[0]} frames; the bracket spans {window[1]:g} sub-frames = "
            f"{window[1] / spk:.1f} source frames at motion.subframes_per_key={spk}"
        )
    peak = float(frames[0].max()) if config.motion.video_peak == "first_frame" else None
    pairs = {} if pairs is None else pairs
    keys = sorted({int(t // spk) for t in times})
    for stale in [key for key in pairs if key < keys[0]]:
        del pairs[stale]
    total = torch.zeros_like(frames[0])
    for key in keys:
        fractions = [t / spk - key for t in times if int(t // spk) == key]
        for _ in range(fractions.count(0.0)):  # the source frame itself, never clipped (comes first in time)
            total += transform(frames[key])
        inner = [f for f in fractions if f != 0.0]
        if inner:
            if key not in pairs:
                pair = frames[key], frames[key + 1]
                if peak is not None:  # published frame_inter: inputs normalised by the first frame's peak, clamped at 1
                    pair = pair[0].clamp(max=peak), pair[1].clamp(max=peak)
                pairs[key] = pair_interpolator(*pair, method=config.motion.interpolator)
            for frame in pairs[key](inner):
                total += transform(frame)
    return total / len(times)


MOTION_MODELS = Registry("motion model", {  # name -> a MotionModel subclass (``motion.model``)
    "none": "simulator.motion_models:StillCamera",
    "trajectory": "simulator.motion_models:HandShake",
    "video": "simulator.motion_models:VideoMotion",
})
