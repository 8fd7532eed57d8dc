"""Bytes that are not the expected protobuf message, sent as the request of every pixpress
RPC: INVALID_ARGUMENT naming the message, never INTERNAL or UNKNOWN, with or without auth."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
from google.protobuf.descriptor import MethodDescriptor
from pixpress.v1 import actions_pb2, assets_pb2, compress_pb2, routes_pb2

from tests.integration.server_process import ServerProcess, keyed_channel, start_server

# A length-delimited field 1 whose length runs past the end, and a varint that never ends.
GARBAGE = (b"\x0a\xff\xff\xff\x0f", b"\xff" * 11)

RPCS = [
    (method, service.full_name, method.name)
    for module in (compress_pb2, assets_pb2, actions_pb2, routes_pb2)
    for service in module.DESCRIPTOR.services_by_name.values()
    for method in service.methods
]


def _identity(data: bytes) -> bytes:
    return data


def _send_raw(
    channel: grpc.Channel, method: MethodDescriptor, path: str, payload: bytes
) -> grpc.RpcError:
    try:
        if method.client_streaming and method.server_streaming:
            list(channel.stream_stream(path, _identity, _identity)(iter([payload]), timeout=30))
        elif method.client_streaming:
            channel.stream_unary(path, _identity, _identity)(iter([payload]), timeout=30)
        elif method.server_streaming:
            list(channel.unary_stream(path, _identity, _identity)(payload, timeout=30))
        else:
            channel.unary_unary(path, _identity, _identity)(payload, timeout=30)
    except grpc.RpcError as error:
        return error
    raise AssertionError(f"{path} accepted garbage")


def _check_every_rpc(channel: grpc.Channel) -> None:
    for method, service, name in RPCS:
        path = f"/{service}/{name}"
        for payload in GARBAGE:
            error = _send_raw(channel, method, path, payload)
            assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (path, error)
            expected = f"malformed request message: not a valid {method.input_type.full_name}"
            assert error.details() == expected, (path, error.details())


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    process = start_server(
        tmp_path_factory.mktemp("garbage-no-auth"), ["--workers", "1", "--insecure-no-auth"]
    )
    yield process
    assert process.stop() == 0, process.log


def test_every_rpc_answers_garbage_with_invalid_argument(address: str, api_key: str) -> None:
    assert len(RPCS) == 11
    with keyed_channel(address, api_key) as channel:
        _check_every_rpc(channel)


def test_also_without_auth(open_server: ServerProcess) -> None:
    with grpc.insecure_channel(open_server.address) as channel:
        _check_every_rpc(channel)


def test_garbage_without_a_key_is_still_unauthenticated(address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        method, service, name = next(rpc for rpc in RPCS if rpc[2] == "GetAction")
        error = _send_raw(channel, method, f"/{service}/{name}", GARBAGE[0])
        assert error.code() == grpc.StatusCode.UNAUTHENTICATED


def test_garbage_after_valid_options_on_compress(address: str, api_key: str) -> None:
    options = compress_pb2.CompressRequest(options=compress_pb2.CompressOptions(quality=70))
    with keyed_channel(address, api_key) as channel:
        call = channel.stream_stream(
            "/pixpress.v1.CompressService/Compress",
            request_serializer=_identity,
            response_deserializer=_identity,
        )
        with pytest.raises(grpc.RpcError) as raised:
            list(call(iter([options.SerializeToString(), GARBAGE[1]]), timeout=30))
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid pixpress.v1.CompressRequest" in (raised.value.details() or "")


def test_the_server_still_serves_after_garbage(address: str, api_key: str) -> None:
    with keyed_channel(address, api_key) as channel:
        route = routes_pb2.GetRouteRequest(route="pixpress/compress-an-image")
        reply = channel.unary_unary(
            "/pixpress.v1.RouteService/GetRoute",
            request_serializer=routes_pb2.GetRouteRequest.SerializeToString,
            response_deserializer=routes_pb2.Route.FromString,
        )(route, timeout=30)
        assert reply.id
