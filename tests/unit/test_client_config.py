"""Target and API key resolution, chunk-size limits, and argument validation messages."""

from __future__ import annotations

import grpc
import pixpress
import pytest
from pixpress._config import (
    DEFAULT_CHUNK_SIZE,
    MAX_CHUNK_SIZE,
    Settings,
    channel_options,
    resolve_api_key,
    resolve_target,
)
from pixpress._convert import compress_options

MIB = 1024 * 1024


@pytest.mark.parametrize(
    ("argument", "environ", "expected"),
    [
        ("host:1", {"PIXPRESS_SERVER": "env:2"}, "host:1"),
        (None, {"PIXPRESS_SERVER": "env:2"}, "env:2"),
        (None, {}, "localhost:50051"),
        (None, {"PIXPRESS_SERVER": ""}, "localhost:50051"),
    ],
)
def test_target_resolution(argument, environ, expected):
    assert resolve_target(argument, environ) == expected


@pytest.mark.parametrize(
    ("argument", "environ", "expected"),
    [
        ("k1", {"PIXPRESS_API_KEY": "k2"}, "k1"),
        (None, {"PIXPRESS_API_KEY": "k2"}, "k2"),
        (None, {}, None),
        (None, {"PIXPRESS_API_KEY": ""}, None),
    ],
)
def test_api_key_resolution(argument, environ, expected):
    assert resolve_api_key(argument, environ) == expected


@pytest.mark.parametrize(
    ("argument", "environ", "expected"),
    [
        ("k1\n", {}, "k1"),
        ("  k1 \r\n", {"PIXPRESS_API_KEY": "k2"}, "k1"),
        (None, {"PIXPRESS_API_KEY": "k2\n"}, "k2"),
        (" \n", {"PIXPRESS_API_KEY": "\tk2"}, "k2"),
        (None, {"PIXPRESS_API_KEY": " \n"}, None),
    ],
)
def test_whitespace_around_the_key_is_dropped(argument, environ, expected):
    assert resolve_api_key(argument, environ) == expected


SECRET = "pxp_abcdef_SECRETSECRET"


@pytest.mark.parametrize(
    ("key", "flaw", "position"),
    [
        (SECRET[:6] + " " + SECRET[6:], "whitespace", 7),
        (SECRET[:6] + "\n" + SECRET[6:], "whitespace", 7),
        (SECRET + "\x00", "a control character", len(SECRET) + 1),
        (SECRET[:3] + "\x7f" + SECRET[3:], "a control character", 4),
        ("é" + SECRET, "a non-ASCII character", 1),
    ],
)
@pytest.mark.parametrize("source", ["argument", "env"])
def test_a_key_with_whitespace_or_control_characters_inside_is_refused(key, flaw, position, source):
    argument, environ = (key, {}) if source == "argument" else (None, {"PIXPRESS_API_KEY": key})
    with pytest.raises(pixpress.InvalidOptionsError) as caught:
        resolve_api_key(argument, environ)
    message = str(caught.value)
    named = "the api_key argument" if source == "argument" else "PIXPRESS_API_KEY"
    assert message.startswith(f"The API key from {named} contains {flaw} at character {position}")
    assert "SECRET" not in message and "pxp_" not in message  # never echoes the key
    assert isinstance(caught.value, ValueError)


def test_a_key_that_is_not_a_string_is_refused():
    with pytest.raises(pixpress.InvalidOptionsError, match="received bytes"):
        resolve_api_key(b"key", {})  # type: ignore[arg-type]


def test_client_strips_the_key_it_sends(monkeypatch):
    monkeypatch.setenv("PIXPRESS_API_KEY", "from-env\n")
    with pixpress.Client("localhost:1") as client:
        assert client._settings.metadata == (("authorization", "Bearer from-env"),)
    monkeypatch.setenv("PIXPRESS_API_KEY", "a b")
    with pytest.raises(pixpress.InvalidOptionsError, match="PIXPRESS_API_KEY contains whitespace"):
        pixpress.Client("localhost:1")


def test_settings_metadata_carries_the_key_as_bearer():
    with_key = Settings.resolve(
        None,
        api_key=None,
        chunk_size=DEFAULT_CHUNK_SIZE,
        timeout=None,
        environ={"PIXPRESS_API_KEY": "secret"},
    )
    assert with_key.metadata == (("authorization", "Bearer secret"),)
    without = Settings.resolve(None, api_key=None, chunk_size=1, timeout=None, environ={})
    assert without.metadata == ()


def test_per_call_timeout_overrides_the_client_one():
    settings = Settings.resolve(None, api_key=None, chunk_size=1, timeout=5.0, environ={})
    assert settings.call_timeout(None) == 5.0
    assert settings.call_timeout(1.0) == 1.0


def test_client_reads_the_env_target(monkeypatch):
    monkeypatch.setenv("PIXPRESS_SERVER", "example.invalid:7")
    with pixpress.Client() as client:
        assert client.target == "example.invalid:7"
        assert repr(client) == "Client('example.invalid:7')"


async def test_async_client_reads_the_env_target(monkeypatch):
    monkeypatch.delenv("PIXPRESS_SERVER", raising=False)
    async with pixpress.AsyncClient() as client:
        assert client.target == "localhost:50051"


@pytest.mark.parametrize("chunk_size", [DEFAULT_CHUNK_SIZE, 1, MAX_CHUNK_SIZE])
def test_messages_stay_within_4_mib_and_above_the_chunk(chunk_size):
    options = dict(channel_options(chunk_size))
    send = options["grpc.max_send_message_length"]
    receive = options["grpc.max_receive_message_length"]
    assert chunk_size < send <= 4 * MIB
    # The contract lets the server send 1 MiB chunks whatever our own chunk size.
    assert max(chunk_size, MIB) < receive <= 4 * MIB


@pytest.mark.parametrize("chunk_size", [0, -1, MAX_CHUNK_SIZE + 1, 1.5, True])
def test_bad_chunk_size(chunk_size):
    message = f"for chunk_size but received {chunk_size!r}"
    with pytest.raises(pixpress.InvalidOptionsError, match=message):
        pixpress.Client("localhost:1", chunk_size=chunk_size)


@pytest.mark.parametrize(
    ("quality", "message"),
    [
        (150, "Expected integer between 1 and 100 for quality but received 150"),
        (0, "Expected integer between 1 and 100 for quality but received 0"),
        (101, "Expected integer between 1 and 100 for quality but received 101"),
        (-5, "Expected integer between 1 and 100 for quality but received -5"),
        (80.0, "Expected integer between 1 and 100 for quality but received 80.0"),
        ("80", "Expected integer between 1 and 100 for quality but received '80'"),
        (True, "Expected integer between 1 and 100 for quality but received True"),
    ],
)
def test_quality_validation_message(quality, message):
    with pytest.raises(pixpress.InvalidOptionsError) as caught:
        compress_options(quality, False)
    assert str(caught.value) == message


def test_keep_metadata_must_be_bool():
    with pytest.raises(ValueError, match="Expected boolean for keep_metadata but received 1"):
        compress_options(80, 1)  # type: ignore[arg-type]


@pytest.mark.parametrize("quality", [1, 50, 100])
def test_valid_quality(quality):
    assert compress_options(quality, False).quality == quality


def test_bad_quality_raises_before_any_call():
    # The target does not exist: a call would fail UNAVAILABLE, validation comes first.
    with pixpress.Client("localhost:1") as client, pytest.raises(ValueError, match="150"):
        client.compress(b"x", quality=150)


def test_unreachable_server_is_unavailable():
    with (
        pixpress.Client("localhost:1", timeout=5) as client,
        pytest.raises(pixpress.UnavailableError) as caught,
    ):
        client.compress(b"x")
    assert caught.value.code is grpc.StatusCode.UNAVAILABLE
