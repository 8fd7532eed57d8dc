"""Streaming responses that always close their body iterator, and the result headers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import TYPE_CHECKING, Any

from starlette.responses import StreamingResponse

from pixpress_server.processing.formats import FORMATS
from pixpress_server.servicers.idle import StreamIdle, idle_error

if TYPE_CHECKING:
    from starlette.types import Message, Receive, Scope, Send

    from pixpress_server.compression import Done

logger = logging.getLogger(__name__)

MIME_TYPES = {spec.format.value: spec.mime for spec in FORMATS}
ACTION_ID_HEADER = "X-Pixpress-Action-Id"


class ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse whose body generator is closed however the response ends (a client
    that goes away mid-body included), so its cleanup runs now, not at garbage collection.

    With `idle_seconds`, a client that takes no bytes for that long (its receive window stays
    full) loses the response: StreamIdle is thrown into the body generator, so its cleanup
    can record why, and the connection is closed (--stream-idle-timeout, as on gRPC).
    """

    def __init__(self, *args: Any, idle_seconds: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._idle_seconds = idle_seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, self._timed(send))
        except StreamIdle as error:
            logger.info("response abandoned: %s", error.public_message)
            throw: Any = getattr(self.body_iterator, "athrow", None)
            if throw is not None:
                with contextlib.suppress(StreamIdle, StopAsyncIteration):
                    await throw(error)
            # Returning with the response incomplete makes uvicorn close the connection.
        finally:
            close: Any = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()

    def _timed(self, send: Send) -> Send:
        seconds = self._idle_seconds
        if seconds is None:
            return send

        async def send_in_time(message: Message) -> None:
            if message["type"] != "http.response.body":
                await send(message)
                return
            try:
                async with asyncio.timeout(seconds):
                    await send(message)
            except TimeoutError:
                raise idle_error(seconds, "read nothing") from None

        return send_in_time


def _token(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "stage"


def result_headers(done: Done, action_id: str) -> dict[str, str]:
    """X-Pixpress-* headers with the result, and Server-Timing with each stage's time."""
    outcome = done.outcome
    headers = {
        ACTION_ID_HEADER: action_id,
        "X-Pixpress-Input-Size": str(outcome.input_size),
        "X-Pixpress-Output-Size": str(outcome.output_size),
        "X-Pixpress-Kept-Original": "true" if outcome.kept_original else "false",
        "X-Pixpress-Quality": str(outcome.quality),
        "X-Pixpress-Effort": str(outcome.effort),
        "X-Pixpress-Width": str(outcome.header.width),
        "X-Pixpress-Height": str(outcome.header.height),
        "X-Pixpress-Frames": str(outcome.header.frames),
        "Server-Timing": ", ".join(
            f"{_token(stage.name)};dur={stage.milliseconds:.1f}" for stage in outcome.stages
        ),
        "Content-Length": str(outcome.output_size),
    }
    if outcome.kept_original_reason:
        headers["X-Pixpress-Kept-Original-Reason"] = _ascii(outcome.kept_original_reason)
    if outcome.score is not None:
        headers["X-Pixpress-Score"] = f"{outcome.score:.2f}"
    if outcome.budget_met is not None:
        headers["X-Pixpress-Budget-Met"] = "true" if outcome.budget_met else "false"
    if done.output_asset_id:
        headers["X-Pixpress-Output-Asset-Id"] = done.output_asset_id
    return headers


def _ascii(text: str) -> str:
    return text.encode("ascii", "replace").decode("ascii")
