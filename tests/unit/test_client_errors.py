"""The status-code-to-class table and translation of grpc errors."""

from __future__ import annotations

import pickle

import grpc
import pixpress
import pytest
from pixpress._errors import (
    ERROR_CLASSES,
    error_for,
    from_rpc_error,
    metadata_details,
    translating_rpc_errors,
)

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

    def __init__(self, code: grpc.StatusCode, details: str | None, trailing=()) -> None:
        self._code, self._details, self._trailing = code, details, trailing

    def code(self):
        return self._code

    def details(self):
        return self._details

    def initial_metadata(self):
        return ()

    def trailing_metadata(self):
        return self._trailing

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
    error = error_for(grpc.StatusCode.ABORTED, "aborted", action_id="a-1", retry_after=2.5)
    copy = pickle.loads(pickle.dumps(error))
    assert (type(copy), copy.code, copy.message) == (pixpress.PixpressError, error.code, "aborted")
    assert (copy.action_id, copy.retry_after) == ("a-1", 2.5)
    timeout = pickle.loads(pickle.dumps(pixpress.WaitTimeoutError("late", action_id="a-2")))
    assert (timeout.action_id, timeout.last_action, timeout.code.name) == (
        "a-2",
        None,
        "DEADLINE_EXCEEDED",
    )


def test_every_error_has_action_id_and_retry_after():
    error = pixpress.NotFoundError("no such asset")
    assert (error.action_id, error.retry_after) == ("", None)


def test_invalid_options_is_an_invalid_argument_and_a_value_error():
    error = pixpress.InvalidOptionsError("Expected integer between 1 and 100 for quality")
    assert isinstance(error, pixpress.InvalidArgumentError)
    assert isinstance(error, ValueError)
    assert error.code is grpc.StatusCode.INVALID_ARGUMENT
    assert "InvalidOptionsError" in pixpress._errors.__doc__


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [
        (None, ("", None)),
        ((), ("", None)),
        ((("pixpress-action-id", "a-1"),), ("a-1", None)),
        ((("pixpress-retry-after", "0.250"),), ("", 0.25)),
        ((("pixpress-retry-after", b"2"), ("pixpress-action-id", b"a-2")), ("a-2", 2.0)),
        ((("pixpress-retry-after", "-1"),), ("", None)),
        ((("pixpress-retry-after", "nan"),), ("", None)),
        ((("pixpress-retry-after", "inf"),), ("", None)),
        ((("pixpress-retry-after", "soon"),), ("", None)),
        ((("other", "x"),), ("", None)),
    ],
)
def test_metadata_details(metadata, expected):
    assert metadata_details(metadata) == expected


def test_translation_reads_the_trailing_metadata():
    trailing = (("pixpress-action-id", "a-9"), ("pixpress-retry-after", "1.5"))
    error = from_rpc_error(FakeRpcError(grpc.StatusCode.RESOURCE_EXHAUSTED, "busy", trailing))
    assert isinstance(error, pixpress.ResourceExhaustedError)
    assert (error.action_id, error.retry_after) == ("a-9", 1.5)


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
