"""Server reflection under both names: `grpc.reflection.v1` (what grpcurl and current tools ask
for first) and v1alpha. grpcio-reflection ships only v1alpha; the two are wire-identical, so one
servicer answers both, and the v1 file is derived from v1alpha's to describe the v1 service."""

from __future__ import annotations

from collections.abc import Sequence

import grpc
from google.protobuf import descriptor_pb2, descriptor_pool
from grpc_reflection.v1alpha import reflection, reflection_pb2

V1ALPHA_SERVICE_NAME = reflection.SERVICE_NAME
V1_SERVICE_NAME = "grpc.reflection.v1.ServerReflection"
_V1_PACKAGE = "grpc.reflection.v1"
_V1_FILE = "grpc/reflection/v1/reflection.proto"
_METHOD = "ServerReflectionInfo"


def enable(service_names: Sequence[str], server: grpc.aio.Server) -> None:
    """Serve reflection as v1 and v1alpha, listing `service_names`."""
    _add_v1_file(descriptor_pool.Default())
    servicer = reflection.aio.ReflectionServicer(service_names)
    method = grpc.stream_stream_rpc_method_handler(
        servicer.ServerReflectionInfo,
        request_deserializer=reflection_pb2.ServerReflectionRequest.FromString,
        response_serializer=reflection_pb2.ServerReflectionResponse.SerializeToString,
    )
    server.add_generic_rpc_handlers(
        [
            grpc.method_handlers_generic_handler(name, {_METHOD: method})
            for name in (V1_SERVICE_NAME, V1ALPHA_SERVICE_NAME)
        ]
    )


def _add_v1_file(pool: descriptor_pool.DescriptorPool) -> None:
    """`grpc/reflection/v1/reflection.proto`: v1alpha's file under the v1 package name."""
    try:
        pool.FindFileByName(_V1_FILE)
        return  # added by an earlier server in this process, or by a library
    except KeyError:
        pass
    v1 = descriptor_pb2.FileDescriptorProto()
    reflection_pb2.DESCRIPTOR.CopyToProto(v1)
    old, new = f".{v1.package}.", f".{_V1_PACKAGE}."

    def renamed(type_name: str) -> str:
        return new + type_name[len(old) :] if type_name.startswith(old) else type_name

    v1.name, v1.package = _V1_FILE, _V1_PACKAGE
    v1.options.Clear()  # v1alpha's say deprecated, and name v1alpha's Go and Java packages
    v1.options.go_package = "google.golang.org/grpc/reflection/grpc_reflection_v1"
    v1.options.java_package = "io.grpc.reflection.v1"
    v1.options.java_multiple_files = True
    for message in v1.message_type:
        for field in message.field:
            if field.HasField("type_name"):  # a message or enum, not a scalar
                field.type_name = renamed(field.type_name)
    for service in v1.service:
        for method in service.method:
            method.input_type = renamed(method.input_type)
            method.output_type = renamed(method.output_type)
    pool.AddSerializedFile(v1.SerializeToString())
