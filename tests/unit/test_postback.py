from __future__ import annotations

import pytest

from omni_relay.adapters.postback import AllowedHosts, PostBack
from omni_relay.errors import PostBackRefused


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://hooks.slack.com/commands/T1/2/x", True),
        ("https://hooks.slack.com:443/actions/x", True),
        ("http://hooks.slack.com/commands/x", False),  # https only
        ("https://hooks.slack.com.evil.example/x", False),
        ("https://evil.example/?u=https://hooks.slack.com/", False),
        ("https://user:pw@hooks.slack.com/x", False),
        ("http://127.0.0.1:8123/response", True),  # listed below, loopback only
        ("http://127.0.0.1:9999/response", False),
        ("http://localhost:8123/response", False),
        ("https://hooks.slack.com:8443/x", False),
        ("javascript:alert(1)", False),
        ("https://[::1/x", False),
    ],
)
def test_only_allowed_hosts(url: str, allowed: bool):
    assert AllowedHosts.parse("127.0.0.1:8123").allows(url) is allowed


def test_plain_http_to_a_listed_public_host_is_still_refused():
    assert not AllowedHosts.parse("example.com").allows("http://example.com/x")
    assert AllowedHosts.parse("example.com").allows("https://example.com/x")


def test_a_refused_url_is_never_requested():
    with pytest.raises(PostBackRefused):
        PostBack(AllowedHosts.parse()).send("POST", "https://evil.example/x", b'{"text": "hi"}')
