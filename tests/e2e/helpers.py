"""What the end-to-end tests share."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from local.cloud.stack import LocalStack, StackConfig


def stack_config(**kwargs: object) -> StackConfig:
    """A StackConfig for the template under test (template.yaml, or the copy RELAY_TEMPLATE names)."""
    config = StackConfig(**kwargs)  # type: ignore[arg-type]
    if os.environ.get("RELAY_TEMPLATE"):
        config.template = Path(os.environ["RELAY_TEMPLATE"])
    return config


def comments_about(stack: LocalStack, path: str, job: str, timeout: float = 15) -> list[dict[str, Any]]:
    """The requests the capture server got at `path` that mention `job` (once there is one, or at timeout)."""
    assert stack.capture is not None
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        found = [p for p in stack.capture.posts if p["path"] == path and job in p["raw"].decode()]
        if found:
            return found
        time.sleep(0.05)
    return []
