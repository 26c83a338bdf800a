from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from omni_relay.observability import logger
from omni_relay.settings import Settings
from omni_relay.wiring import Runtime
from tests.fakes import FakeOmni, FakeSecretStore

EVENTS = Path(__file__).resolve().parents[2] / "events"
SIGNING_SECRET = "unit-test-signing-secret-7f3a"
OMNI_KEY = "omni-org-key-unit-9c1d"
NOW = 1_795_000_000


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


def make_settings(**env: str) -> Settings:
    base = {
        "OMNI_BASE_URL": "https://acme.omniapp.co/api",
        "OMNI_SECRET_ID": "omni",
        "SLACK_SECRET_ID": "slack",
        "SLACK_ALLOWED_TEAMS": "T0LOCAL01",
    }
    return Settings.from_env({**base, **env})


@pytest.fixture
def secrets() -> FakeSecretStore:
    return FakeSecretStore(
        {
            "slack": {"signing_secrets": [SIGNING_SECRET]},
            "omni": {"api_key": OMNI_KEY, "user_tokens": {}},
        }
    )


@pytest.fixture
def omni() -> FakeOmni:
    return FakeOmni()


@pytest.fixture
def runtime(secrets: FakeSecretStore, omni: FakeOmni) -> Runtime:
    return Runtime(make_settings(), secrets, omni, now=lambda: NOW)


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Every line the relay's Powertools Logger writes, formatted as in CloudWatch."""
    sink = io.StringIO()
    handler = logging.StreamHandler(sink)
    handler.setFormatter(logger.registered_formatter)
    level = logger.log_level
    logger.setLevel("INFO")  # the template's level, whatever an earlier test left
    logging.getLogger(logger.name).addHandler(handler)
    yield sink
    logging.getLogger(logger.name).removeHandler(handler)
    logger.setLevel(level)
