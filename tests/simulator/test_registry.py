import pytest

from simulator.demosaic import DEMOSAICERS
from simulator.errors import UnknownNameError
from simulator.registry import Registry


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
