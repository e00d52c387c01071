"""Scoring protocols as frozen, versioned data.

A protocol fixes everything that changes a number: how a model's RAW output is rendered, how much border
is excluded, which metrics are computed, how files are named and how many images a full test set has.
Every score carries ``name@version``; a change to any field below means a new version.

=============== ===========================================================================
bracketire      Appendix B of Zhang et al. (ICLR 2025), BracketIRE: 10 px border excluded
bracketire_plus Appendix B, BracketIRE+ (x4): 16 px border excluded
ntire2024       NTIRE 2024 Bracketing challenge: full image, no border excluded
=============== ===========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.core.errors import ConfigError
from simulator.core.registry import Registry


@dataclass(frozen=True)
class Protocol:
    """How results are rendered and scored.

    Attributes:
        name: registry name.
        version: bumped whenever a field changes.
        description: one line, with the source.
        demosaicer: demosaicer of the rendering chain (model output -> 16-bit RGB).
        white_level: model outputs are divided by this before rendering (16 in BracketIRE).
        mu: mu-law strength of the tonemap.
        padding: zero border (full-resolution pixels) the published test script adds around a rendered
            output, so that it has the ground truth's size after its test crop of the input.
        crop: border (full-resolution pixels) excluded from both images before every metric.
        metrics: metric names, in table order.
        file_pattern: how output and ground-truth files are named.
        expected_count: images in the full test set, or None when not fixed.
    """

    name: str
    version: str
    description: str
    demosaicer: str = "demosaicnet"
    white_level: float = 16.0
    mu: float = 5000.0
    padding: int = 10
    crop: int = 10
    metrics: tuple[str, ...] = ("psnr", "ssim", "lpips")
    file_pattern: str = "{scene}-{frame}.png"
    expected_count: int | None = None

    @property
    def tag(self) -> str:
        """``name@version``, carried by every score."""
        return f"{self.name}@{self.version}"


PROTOCOLS = Registry("protocol", {
    p.name: p
    for p in (
        Protocol(
            name="bracketire",
            version="1",
            description="BracketIRE test set, Appendix B of Zhang et al. (ICLR 2025): 10 px border excluded",
            padding=10,
            crop=10,
            expected_count=290,
        ),
        Protocol(
            name="bracketire_plus",
            version="1",
            description="BracketIRE+ (x4) test set, Appendix B of Zhang et al. (ICLR 2025): 16 px border excluded",
            padding=16,
            crop=16,
            expected_count=290,
        ),
        Protocol(
            name="ntire2024",
            version="1",
            description="NTIRE 2024 Bracketing challenge: flat <scene>-<frame>.png files, whole image scored",
            padding=10,
            crop=0,
            expected_count=None,
        ),
    )
})  # users add their own with PROTOCOLS.register(name, Protocol(...))


def protocol_names() -> list[str]:
    """Registered protocol names."""
    return list(PROTOCOLS)


def get_protocol(name: str) -> Protocol:
    """The protocol registered as ``name`` (a did-you-mean error otherwise)."""
    return PROTOCOLS[name]


PROTOCOL_SCALES = {"bracketire": 1, "bracketire_plus": 4}  # the output scale a protocol's results have (None: any)
_TASK_NAMES = {1: "BracketIRE (x1)", 4: "BracketIRE+ (x4)"}


def check_model_fits(protocol: Protocol | str, model_name: str, scale: int) -> None:
    """A model whose output scale is ``scale`` may be scored under ``protocol`` (BracketIRE+ needs a x4 model).

    Raises:
        ConfigError: naming the protocol, the model and what would fit.
    """
    proto = get_protocol(protocol) if isinstance(protocol, str) else protocol
    want = PROTOCOL_SCALES.get(proto.name)
    if want is not None and scale != want:
        fitting = [name for name, s in PROTOCOL_SCALES.items() if s == scale]
        raise ConfigError(f"--protocol {proto.name} scores {_TASK_NAMES[want]} results, but model {model_name!r} "
                          f"outputs x{scale}; use a x{want} model" + (" (e.g. tmrnet_plus)" if want == 4 else "")
                          + (f" or --protocol {fitting[0]}" if fitting else ""))
