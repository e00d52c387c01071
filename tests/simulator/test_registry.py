import pytest

from simulator.core.errors import UnknownNameError
from simulator.core.registry import Registry
from simulator.demosaic import DEMOSAICERS


def test_unknown_name_suggests_the_closest_and_lists_all():
    with pytest.raises(UnknownNameError) as info:
        DEMOSAICERS["bilinaer"]
    assert str(info.value) == (
        "no demosaicer named 'bilinaer'; did you mean 'bilinear'? (available: bilinear, menon2007, demosaicnet)"
    )


def test_entries_are_imported_lazily_so_a_broken_one_breaks_only_itself():
    registry = Registry("thing", {"good": "simulator.color:mu_law", "broken": "simulator.no_such_module:x"})
    assert registry.names() == ["good", "broken"]
    assert registry["good"].__name__ == "mu_law"
    assert registry.summary("good").startswith("Mu-law tonemap")
    with pytest.raises(ModuleNotFoundError):
        registry["broken"]


def test_malformed_target_is_a_programming_error():
    with pytest.raises(ValueError, match="not 'module:attribute'"):
        Registry("thing", {"x": "simulator.color.mu_law"})


def _every_registry():
    from benchmark.metrics import METRICS
    from benchmark.protocols import PROTOCOLS
    from models import MODELS
    from simulator.camera import CAMERAS
    from simulator.core.weights import WEIGHT_FILES
    from simulator.demosaic import DEMOSAICERS
    from simulator.interpolate import INTERPOLATORS
    from simulator.noise import NOISE_LEVELS, NOISE_MODELS

    return [MODELS, METRICS, NOISE_MODELS, NOISE_LEVELS, DEMOSAICERS, CAMERAS, INTERPOLATORS, PROTOCOLS, WEIGHT_FILES]


@pytest.mark.parametrize("index", range(9))
def test_every_registry_takes_a_users_entry_and_gives_it_a_did_you_mean(index):
    registry = _every_registry()[index]
    before = registry.names()
    registry.register("users_own_entry", "simulator.color:mu_law")
    try:
        assert registry.names() == [*before, "users_own_entry"]
        entry = registry.target("users_own_entry")  # the model registry keeps a ModelSpec around the target
        assert getattr(entry, "target", entry) == "simulator.color:mu_law"
        with pytest.raises(UnknownNameError, match="did you mean 'users_own_entry'"):
            registry["users_own_entri"]
        with pytest.raises(ValueError, match="already registered"):
            registry.register("users_own_entry", "simulator.color:mu_law")
    finally:
        registry.unregister("users_own_entry")
    assert registry.names() == before


def test_register_works_as_a_decorator_and_replace_is_explicit():
    registry = Registry("thing", {"a": "simulator.color:mu_law"})

    @registry.register("b")
    def b() -> str:
        """Bee."""
        return "b"

    assert registry["b"] is b and registry.summary("b") == "Bee."
    registry.register("b", "simulator.color:mu_law", replace=True)
    assert registry["b"].__name__ == "mu_law"
