from __future__ import annotations

import pytest

from omni_relay.domain.allowlists import AllowList
from omni_relay.errors import ConfigError
from omni_relay.settings import Settings


def test_required_values_are_all_named_when_missing():
    with pytest.raises(ConfigError) as error:
        Settings.from_env({})
    assert "OMNI_BASE_URL" in str(error.value)
    assert "OMNI_SECRET_ID" in str(error.value)
    assert "SLACK_SECRET_ID" in str(error.value)


@pytest.mark.parametrize("url", ["http://acme.omniapp.co/api", "ftp://x", "acme.omniapp.co"])
def test_omni_base_url_must_be_https(url: str):
    with pytest.raises(ConfigError, match="OMNI_BASE_URL"):
        Settings.from_env({"OMNI_BASE_URL": url, "OMNI_SECRET_ID": "a", "SLACK_SECRET_ID": "b"})


def test_plain_http_is_allowed_for_loopback_only():
    settings = Settings.from_env(
        {"OMNI_BASE_URL": "http://127.0.0.1:8099/api/", "OMNI_SECRET_ID": "a", "SLACK_SECRET_ID": "b"}
    )
    assert settings.omni_base_url == "http://127.0.0.1:8099/api"


def test_numbers_are_validated():
    with pytest.raises(ConfigError, match="SLACK_DEADLINE_MS"):
        Settings.from_env(
            {"OMNI_BASE_URL": "https://a/api", "OMNI_SECRET_ID": "a", "SLACK_SECRET_ID": "b", "SLACK_DEADLINE_MS": "x"}
        )


def test_allow_lists_deny_by_default_and_star_allows_all():
    assert not AllowList.parse("").allows("T1")
    assert AllowList.parse("*").allows("T1")
    assert AllowList.parse(" T1 , T2 ").allows("T2")
    assert not AllowList.parse("T1").allows("")
