"""The layout's promise, measured: a request goes down the floors from its entry point and never
jumps back into the composition root (make walk prints the figures)."""

from __future__ import annotations

import pytest

from tests.architecture import walk


@pytest.mark.parametrize("request_of", [walk.slack_command, walk.github_comment], ids=["slack", "github"])
def test_a_request_never_jumps_back_into_the_composition_root(request_of):
    found = request_of()
    assert found.jumps_back == 0, [hop for hop in found.hops if hop[1] == walk.ROOT_MODULE]
    assert found.edges and found.edges[0][0] == "relay_app"  # the walk saw the request from its entry point
    # Down the floors; the one way back up is a call on the request's own source, handed down as the
    # vendor's adapter (it builds the vendor's comment call), never a module reached by import.
    assert all(callee in ("omni_relay.sources.github",) for _, callee in found.upward), found.upward
