"""What a registered model is and what it needs, in one frozen record: :class:`ModelSpec`.

Every fact about a model that code outside the model's own file needs lives in its spec line
(``models/registry.py``): the constructor, preset arguments, the tiny configuration tests and quick perf runs
build, the published ("card") configuration with its parameter count, whether it runs without weights, the
weight files it is published with or ships with, the pretrained parts it loads, and whether it accepts fewer
frames than it was built for. ``train``, ``bench``, ``info``, ``perf/``, the zoo and the tests all read it.
"""

from __future__ import annotations

import functools
import importlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from torch import nn

if TYPE_CHECKING:
    from models.training import TrainingBehaviour

from simulator.core.errors import ConfigError
from simulator.core.registry import Registry, first_doc_line
from simulator.core.weights import WeightSpec


def _resolve(target: Any) -> Any:
    """``"package.module:attribute"`` -> the attribute (imported now); anything else as it is."""
    if isinstance(target, str):
        module, _, attr = target.partition(":")
        return getattr(importlib.import_module(module), attr)
    return target


@dataclass(frozen=True)
class ModelSpec:
    """One registered model.

    Attributes:
        name: the registry name (``--model NAME``).
        target: the class (or factory) as ``"package.module:attribute"`` (imported on first use) or the object.
        preset: constructor arguments this name fixes (``tmrnet_plus`` is TMRNet with ``{"scale": 4}``);
            a user's argument of the same name wins.
        tiny: constructor arguments of a small configuration for CPU tests and quick perf runs
            (input ``[B, T, 4, 32, 32]`` in seconds).
        small: arguments of the zoo's equal-budget run (``perf/zoo.py``); ``None`` means ``tiny``.
        card: ``{"kwargs": {...}, "params_m": float}``, the arguments that rebuild the published network at its
            native input and its parameter count in millions to three decimals (``shared/model_cards.md``);
            ``None`` when there is no published network.
        needs_weights: False for models that run without trained weights (the classical baselines).
        published_weights: the authors' released checkpoint (a :class:`WeightSpec` or ``"module:attr"`` of one).
        shipped_weights: a checkpoint shipped with the toolkit, if any (same forms).
        pretrained_parts: submodule prefix -> the registered model whose weights that part starts from when the
            model trains (``{"spynet": "spynet"}``; ``models/pretrained.py``, ``--set model.spynet_weights=...``).
        fewer_frames: whether ``forward`` accepts fewer frames than ``num_frames`` (a shorter bracket).
        scales: the values the constructor's ``scale`` argument accepts (1: BracketIRE, 4: BracketIRE+).
        training: how the runner trains it, a :class:`~models.training.TrainingBehaviour` (or its
            ``"module:attr"``); ``None`` is the published recipe.
        task: ``"restoration"`` (bracket in, image out: bench, predict, the zoo) or ``"flow"`` (a flow network
            trained on its own, ``forward(ref, supp)``: only ``train`` and ``info`` list it).
    """

    name: str
    target: Any
    preset: Mapping[str, Any] = field(default_factory=dict)
    tiny: Mapping[str, Any] = field(default_factory=dict)
    small: Mapping[str, Any] | None = None
    card: Mapping[str, Any] | None = None
    needs_weights: bool = True
    published_weights: WeightSpec | str | None = None
    shipped_weights: WeightSpec | str | None = None
    pretrained_parts: Mapping[str, str] = field(default_factory=dict)
    fewer_frames: bool = False
    scales: tuple[int, ...] = (1, 4)
    training: Any = None
    task: str = "restoration"

    def __post_init__(self) -> None:
        if isinstance(self.target, str) and self.target.count(":") != 1:
            raise ConfigError(f"model {self.name!r}: target {self.target!r} is not 'module:attribute'")
        if self.card is not None and not {"kwargs", "params_m"} <= set(self.card):
            raise ConfigError(f"model {self.name!r}: card must be {{'kwargs': {{...}}, 'params_m': float}}")

    def load(self) -> Callable[..., nn.Module]:
        """The target class or factory, imported."""
        return _resolve(self.target)

    def constructor(self) -> Callable[..., nn.Module]:
        """The target with the preset arguments bound (``functools.partial``), or the target itself."""
        target = self.load()
        return functools.partial(target, **self.preset) if self.preset else target

    def build(self, **kwargs: Any) -> nn.Module:
        """The model with the preset, then ``kwargs``, as constructor arguments."""
        return self.load()(**{**self.preset, **kwargs})

    def build_tiny(self, **kwargs: Any) -> nn.Module:
        """The model at its tiny configuration (``kwargs`` on top)."""
        return self.build(**{**self.tiny, **kwargs})

    @property
    def scale(self) -> int:
        """Output upscaling of the registered configuration (the preset's ``scale``, else 1)."""
        return int(self.preset.get("scale", 1))

    @property
    def zoo_args(self) -> dict[str, Any]:
        """Constructor arguments of the zoo's equal-budget run (``small``, else ``tiny``)."""
        return dict(self.tiny if self.small is None else self.small)

    def tiny_overrides(self) -> list[str]:
        """``tiny`` as ``--set`` items (``model.KEY=VALUE``, values in YAML flow style)."""
        return [f"model.{key}={json.dumps(value)}" for key, value in self.tiny.items()]

    def weights(self) -> dict[str, WeightSpec]:
        """The weight files of this model: ``published`` and ``shipped`` -> its spec (parts: their own specs)."""
        found: dict[str, WeightSpec] = {}
        for key, value in (("published", self.published_weights), ("shipped", self.shipped_weights)):
            if value is not None:
                found[key] = _resolve(value)
        return found

    def training_behaviour(self) -> TrainingBehaviour:
        """The runner's :class:`~models.training.TrainingBehaviour` for this model (the default recipe if none)."""
        from models.training import DEFAULT_TRAINING

        behaviour = DEFAULT_TRAINING if self.training is None else _resolve(self.training)
        return behaviour() if isinstance(behaviour, type) else behaviour

    def summary(self) -> str:
        """The target's docstring line, with the preset when there is one."""
        line = first_doc_line(self.load())
        if self.preset:
            line += " [preset: " + ", ".join(f"{k}={v}" for k, v in self.preset.items()) + "]"
        return line


class ModelRegistry(Registry):
    """The model registry: name -> :class:`ModelSpec`, read as name -> constructor (presets bound).

    ``MODELS[name]`` is the constructor (``MODELS[name](**kwargs)`` builds); ``MODELS.spec(name)`` is the spec.
    Register a model with ``MODELS.register(ModelSpec("mynet", "mypackage.mynet:MyNet", tiny={...}))``, or,
    as today, ``MODELS.register("mynet", "mypackage.mynet:MyNet")`` / ``MODELS.register("mynet", MyNet)``.
    """

    def __init__(self, specs: Mapping[str, Any] | list[ModelSpec] | tuple[ModelSpec, ...] = ()) -> None:
        super().__init__("model")
        items = specs.items() if isinstance(specs, Mapping) else ((s.name, s) for s in specs)
        for name, spec in items:
            self.register(name, spec)

    def register(self, name: Any, target: Any = None, *, replace: bool = False, **fields: Any) -> Any:
        """Add a model: a :class:`ModelSpec`, or a name and a target (``"module:attr"`` or the class) plus spec fields.

        With a name and no target, a decorator over a class: ``@MODELS.register("mynet", tiny={...})``.
        """
        if isinstance(name, ModelSpec):
            return super().register(name.name, name, replace=replace)
        if target is None:
            def decorate(obj: Any) -> Any:
                self.register(name, obj, replace=replace, **fields)
                return obj

            return decorate
        spec = target if isinstance(target, ModelSpec) else ModelSpec(name, target, **fields)
        if spec.name != name:
            raise ConfigError(f"model registry: spec {spec.name!r} registered under another name, {name!r}")
        return super().register(name, spec, replace=replace)

    def spec(self, name: str) -> ModelSpec:
        """The :class:`ModelSpec` of ``name`` (a did-you-mean error otherwise)."""
        return self.target(name)

    def specs(self, task: str | None = "restoration") -> list[ModelSpec]:
        """The specs of ``task`` (every spec when ``None``), in table order."""
        return [self.target(name) for name in self if task is None or self.target(name).task == task]

    def names(self, task: str | None = "restoration") -> list[str]:
        """The names of ``task``'s models (``"restoration"``: bracket -> image; ``None``: every model)."""
        return [spec.name for spec in self.specs(task)]

    def __getitem__(self, name: str) -> Callable[..., nn.Module]:
        return self.spec(name).constructor()

    def summary(self, name: str) -> str:
        return self.spec(name).summary()
