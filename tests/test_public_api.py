"""The public API: every package's ``__all__`` resolves, and the entry points others build on keep their shape."""

from __future__ import annotations

import importlib

import pytest

PACKAGES = ("simulator", "models", "benchmark", "leaderboards")


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_in_all_resolves(package):
    module = importlib.import_module(package)
    assert module.__all__, f"{package} declares no public names"
    missing = [name for name in module.__all__ if getattr(module, name, None) is None]
    assert not missing, f"{package}.__all__ names that do not resolve: {missing}"


def test_model_entry_points_keep_their_shape():
    import models
    from models.checkpoints import load_checkpoint

    assert models.list_models()[:4] == ["tmrnet", "tmrnet_plus", "reference", "merge"]
    assert callable(models.MODELS["merge"]) and models.build_model("merge").scale == 1  # name -> constructor
    assert models.model_spec("tmrnet").needs_weights and callable(load_checkpoint)
    assert set(models.weight_free_models()) == {"reference", "merge"}


def test_registry_built_from_a_table_of_targets_still_works():
    from simulator import Registry

    registry = Registry("thing", {"mu": "simulator.color:mu_law"})
    assert registry["mu"].__name__ == "mu_law" and registry.names() == ["mu"]


def test_an_unknown_public_name_is_an_attribute_error():
    import simulator

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        simulator.nope  # noqa: B018
