from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.omni_emulator import OmniEmulator

ORG_KEY = "omni-org-key-integration"


@pytest.fixture
def emulator() -> Iterator[OmniEmulator]:
    with OmniEmulator() as omni:
        omni.add_key(ORG_KEY)
        yield omni
