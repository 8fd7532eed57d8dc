"""The status-code-to-class table and translation of grpc errors."""

from __future__ import annotations

import pickle

import grpc
import pixpress
import pytest
from pixpress._errors import ERROR_CLASSES, error_for, from_rpc_error, translating_rpc_errors

EXPECTED = {
    grpc.StatusCode.INVALID_ARGUMENT: pixpress.InvalidArgumentError,
    grpc.StatusCode.UNAUTHENTICATED: pixpress.UnauthenticatedError,
    grpc.StatusCode.PERMISSION_DENIED: pixpress.PermissionDeniedError,
    grpc.StatusCode.NOT_FOUND: pixpress.NotFoundError,
    grpc.StatusCode.RESOURCE_EXHAUSTED: pixpress.ResourceExhaustedError,
    grpc.StatusCode.FAILED_PRECONDITION: pixpress.FailedPreconditionError,
    grpc.StatusCode.DEADLINE_EXCEEDED: pixpress.DeadlineExceededError,
    grpc.StatusCode.UNAVAILABLE: pixpress.UnavailableError,
    grpc.StatusCode.INTERNAL: pixpress.InternalError,
    grpc.StatusCode.CANCELLED: pixpress.RequestCancelledError,
}


class FakeRpcError(grpc.RpcError, grpc.Call):
    """Just enough of a failed sync call for from_rpc_error."""

    def __init__(self, code: grpc.StatusCode, details: str | None) -> None:
        self._code, self._details = code, details

    def code(self):
        return self._code

    def details(self):
        return self._details

    def initial_metadata(self):
        return ()

    def trailing_metadata(self):
        return ()

    def is_active(self):
        return False

    def time_remaining(self):
        return None

    def cancel(self):
        return False

    def add_callback(self, callback):
        return False


@pytest.mark.parametrize("code", list(grpc.StatusCode), ids=lambda c: c.name)
def test_every_status_code_maps_to_its_class(code):
    error = error_for(code, "the message")
    assert type(error) is EXPECTED.get(code, pixpress.PixpressError)
    assert isinstance(error, pixpress.PixpressError)
    assert error.code is code
    assert error.message == "the message"
    assert str(error) == "the message"


def test_table_is_exactly_the_documented_subclasses():
    assert dict(ERROR_CLASSES) == EXPECTED


@pytest.mark.parametrize("cls", sorted(EXPECTED.values(), key=lambda c: c.__name__))
def test_subclass_named_in_the_module_docstring_tree(cls):
    assert cls.__name__ in pixpress._errors.__doc__
    assert cls.code.name in pixpress._errors.__doc__


def test_cancelled_does_not_shadow_asyncio():
    import asyncio

    assert not issubclass(pixpress.RequestCancelledError, asyncio.CancelledError)
    assert "CancelledError" not in pixpress.__all__


def test_subclass_built_directly_has_its_code():
    assert pixpress.NotFoundError("no such asset").code is grpc.StatusCode.NOT_FOUND
    assert pixpress.PixpressError("x").code is grpc.StatusCode.UNKNOWN


def test_errors_survive_pickling():
    error = error_for(grpc.StatusCode.ABORTED, "aborted")
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.code, copy.message) == (pixpress.PixpressError, error.code, "aborted")


def test_translation_keeps_code_and_details_and_chains():
    original = FakeRpcError(grpc.StatusCode.INVALID_ARGUMENT, "not an image")
    with pytest.raises(pixpress.InvalidArgumentError) as caught, translating_rpc_errors():
        raise original
    assert caught.value.message == "not an image"
    assert caught.value.__cause__ is original


def test_translation_without_details_uses_the_status_name():
    error = from_rpc_error(FakeRpcError(grpc.StatusCode.UNAVAILABLE, None))
    assert isinstance(error, pixpress.UnavailableError)
    assert error.message == "UNAVAILABLE"


def test_translation_of_a_bare_rpc_error_is_unknown():
    error = from_rpc_error(grpc.RpcError("weird"))
    assert type(error) is pixpress.PixpressError
    assert error.code is grpc.StatusCode.UNKNOWN


def test_other_exceptions_pass_through():
    with pytest.raises(KeyError), translating_rpc_errors():
        raise KeyError("x")
