"""pixpress: compress an image while keeping its format, through a pixpress gRPC server.

from pixpress import Client

with Client("localhost:50051") as client:
    client.compress("photo.jpg", quality=75).save("photo.min.jpg")
"""

from __future__ import annotations

from pixpress._async_client import AsyncClient
from pixpress._client import Client
from pixpress._errors import (
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
    PixpressError,
    RequestCancelledError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from pixpress._results import CompressResult, Stage

__version__ = "0.1.0"

__all__ = [
    "AsyncClient",
    "Client",
    "CompressResult",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "NotFoundError",
    "PermissionDeniedError",
    "PixpressError",
    "RequestCancelledError",
    "ResourceExhaustedError",
    "Stage",
    "UnauthenticatedError",
    "UnavailableError",
    "__version__",
]
