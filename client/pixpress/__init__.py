"""pixpress: compress an image while keeping its format, through a pixpress gRPC server.

from pixpress import Client

with Client("localhost:50051") as client:
    client.compress("photo.jpg", quality=75).save("photo.min.jpg")

    asset = client.assets.upload("photo.jpg")
    route = client.routes.retrieve("pixpress/compress-an-image")
    action = route.use(body={"quality": 85}, input_asset=asset)  # waits: SUCCEEDED or FAILED
    print(action["status"], action.get("response_data"))
"""

from __future__ import annotations

from pixpress._async_client import AsyncClient
from pixpress._client import Client
from pixpress._errors import (
    DeadlineExceededError,
    FailedPreconditionError,
    InternalError,
    InvalidArgumentError,
    InvalidOptionsError,
    NotFoundError,
    PermissionDeniedError,
    PixpressError,
    RequestCancelledError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
    WaitTimeoutError,
)
from pixpress._models import (
    Action,
    ActionError,
    ActionPage,
    ActionRequest,
    ActionResponse,
    ActionStatus,
    Asset,
    Visibility,
)
from pixpress._results import CompressResult, Stage
from pixpress._routes import AsyncRoute, Route

__version__ = "0.1.0"

__all__ = [
    "Action",
    "ActionError",
    "ActionPage",
    "ActionRequest",
    "ActionResponse",
    "ActionStatus",
    "Asset",
    "AsyncClient",
    "AsyncRoute",
    "Client",
    "CompressResult",
    "DeadlineExceededError",
    "FailedPreconditionError",
    "InternalError",
    "InvalidArgumentError",
    "InvalidOptionsError",
    "NotFoundError",
    "PermissionDeniedError",
    "PixpressError",
    "RequestCancelledError",
    "ResourceExhaustedError",
    "Route",
    "Stage",
    "UnauthenticatedError",
    "UnavailableError",
    "Visibility",
    "WaitTimeoutError",
    "__version__",
]
