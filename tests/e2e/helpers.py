"""What the end-to-end tests share."""

from __future__ import annotations

import os
from pathlib import Path

from local.stack import StackConfig


def stack_config(**kwargs: object) -> StackConfig:
    """A StackConfig for the template under test (template.yaml, or the copy RELAY_TEMPLATE names)."""
    config = StackConfig(**kwargs)  # type: ignore[arg-type]
    if os.environ.get("RELAY_TEMPLATE"):
        config.template = Path(os.environ["RELAY_TEMPLATE"])
    return config
