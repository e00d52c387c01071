import dataclasses

import pytest

from benchmark.protocols import PROTOCOLS, get_protocol, protocol_names
from simulator.core.errors import UnknownNameError


def test_published_protocols_fix_the_appendix_b_crops():
    # Appendix B / syn_metrics.py: 10 px (BracketIRE), 16 px (BracketIRE+); NTIRE 2024: whole image
    assert get_protocol("bracketire").crop == 10 and get_protocol("bracketire").padding == 10
    assert get_protocol("bracketire_plus").crop == 16 and get_protocol("bracketire_plus").padding == 16
    assert get_protocol("ntire2024").crop == 0
    assert all(p.demosaicer == "demosaicnet" and p.white_level == 16 and p.mu == 5000 for p in PROTOCOLS.values())
    assert get_protocol("bracketire").expected_count == 290  # syn_metrics.py averages 290 rows


def test_every_protocol_is_frozen_and_tagged():
    for name in protocol_names():
        protocol = get_protocol(name)
        assert protocol.tag == f"{name}@{protocol.version}"
        with pytest.raises(dataclasses.FrozenInstanceError):
            protocol.crop = 0  # type: ignore[misc]


def test_unknown_protocol_suggests_a_name():
    with pytest.raises(UnknownNameError, match="did you mean 'bracketire_plus'"):
        get_protocol("bracketire_pluss")
