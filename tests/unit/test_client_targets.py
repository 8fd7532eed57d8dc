"""The server address made into a gRPC target: several servers and dns:/// are round-robin."""

from __future__ import annotations

import re

import pytest
from pixpress import Client, InvalidOptionsError
from pixpress._config import resolve_target
from pixpress._targets import ChannelTarget, channel_target

ROUND_ROBIN = ("grpc.lb_policy_name", "round_robin")


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("localhost:50051", ChannelTarget("localhost:50051")),
        (" example.com:443 ", ChannelTarget("example.com:443")),
        ("[::1]:50051", ChannelTarget("[::1]:50051")),
        (
            "dns:///pixpress.default.svc:50051",
            ChannelTarget("dns:///pixpress.default.svc:50051", True),
        ),
        ("ipv4:10.0.0.1:1,10.0.0.2:2", ChannelTarget("ipv4:10.0.0.1:1,10.0.0.2:2", True)),
        ("unix:/run/pixpress.sock", ChannelTarget("unix:/run/pixpress.sock")),
        (
            "10.0.0.1:50051,10.0.0.2:50052",
            ChannelTarget("ipv4:10.0.0.1:50051,10.0.0.2:50052", True),
        ),
        ("10.0.0.1:7, 10.0.0.1:7 ,10.0.0.2:7", ChannelTarget("ipv4:10.0.0.1:7,10.0.0.2:7", True)),
        ("[::1]:1,[2001:db8::2]:2", ChannelTarget("ipv6:[::1]:1,[2001:db8::2]:2", True)),
        # A name is resolved once; TLS and :authority keep the first name.
        (
            "localhost:1,127.0.0.2:2",
            ChannelTarget("ipv4:127.0.0.1:1,127.0.0.2:2", True, "localhost:1"),
        ),
    ],
)
def test_targets(target, expected):
    assert channel_target(target) == expected


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("a:1,,b:2", "Expected HOST:PORT or several separated by commas but received 'a:1,,b:2'"),
        ("", "Expected HOST:PORT or several"),
        (
            "10.0.0.1:1,10.0.0.2",
            "with a port from 1 to 65535 for each server of a list but received '10.0.0.2'",
        ),
        ("10.0.0.1:1,10.0.0.2:0", "received '10.0.0.2:0'"),
        ("10.0.0.1:1,:5", "received ':5'"),
        ("10.0.0.1:1,name.invalid:5", "Cannot resolve name.invalid (of name.invalid:5)"),
        (
            "10.0.0.1:1,[::1]:2",
            "share an address family (all IPv4 or all IPv6) but received 10.0.0.1:1, [::1]:2",
        ),
    ],
)
def test_bad_targets(target, message):
    with pytest.raises(InvalidOptionsError, match=re.escape(message)):
        channel_target(target)


def test_balanced_channel_options():
    assert ChannelTarget("x:1").channel_options == []
    assert ChannelTarget("dns:///x:1", True).channel_options == [ROUND_ROBIN]
    assert ChannelTarget("ipv4:1.2.3.4:1,1.2.3.5:1", True, "x:1").channel_options == [
        ROUND_ROBIN,
        ("grpc.default_authority", "x:1"),
    ]


def test_a_list_is_joined_and_an_empty_one_refused():
    assert resolve_target(["10.0.0.1:1", "10.0.0.2:2"], {}) == "10.0.0.1:1,10.0.0.2:2"
    assert resolve_target(None, {"PIXPRESS_SERVER": "10.0.0.1:1,10.0.0.2:2"}) == (
        "10.0.0.1:1,10.0.0.2:2"
    )
    with pytest.raises(InvalidOptionsError, match="at least one server"):
        resolve_target([], {})


def test_client_accepts_a_list_and_the_env_list(monkeypatch):
    with Client(["127.0.0.1:1", "127.0.0.1:2"]) as client:
        assert client.target == "127.0.0.1:1,127.0.0.1:2"
    monkeypatch.setenv("PIXPRESS_SERVER", "127.0.0.1:1, 127.0.0.1:2")
    with Client() as client:
        assert client.target == "127.0.0.1:1, 127.0.0.1:2"
    with pytest.raises(InvalidOptionsError, match="Cannot resolve"):
        Client("127.0.0.1:1,name.invalid:2")
