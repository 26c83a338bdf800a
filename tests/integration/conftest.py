from __future__ import annotations

from collections.abc import Iterator

import pytest

from local.standins.omni_emulator import OmniEmulator

ORG_KEY = "omni-org-key-integration"


@pytest.fixture
def emulator() -> Iterator[OmniEmulator]:
    with OmniEmulator() as omni:
        omni.add_key(ORG_KEY)
        yield omni


def point_aws_at(monkeypatch: pytest.MonkeyPatch, url: str, **extra: str) -> None:
    """boto3 (and Powertools' cached clients) talk to `url` on loopback with test credentials."""
    env = {
        "AWS_ENDPOINT_URL": url,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        **extra,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    reset_powertools_parameters()


def reset_powertools_parameters() -> None:
    """Powertools keeps one default Secrets Manager client and cache per process: drop them so the
    next test (another moto port) starts clean, as a new execution environment would."""
    from aws_lambda_powertools.utilities.parameters import constants as parameters_constants

    parameters_constants.DEFAULT_PROVIDERS.clear()
