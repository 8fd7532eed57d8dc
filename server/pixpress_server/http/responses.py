"""Streaming responses that always close their body iterator, and the result headers."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from starlette.responses import StreamingResponse

from pixpress_server.processing.formats import FORMATS

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

    from pixpress_server.compression import Done

MIME_TYPES = {spec.format.value: spec.mime for spec in FORMATS}
ACTION_ID_HEADER = "X-Pixpress-Action-Id"


class ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse whose body generator is closed however the response ends (a client
    that goes away mid-body included), so its cleanup runs now, not at garbage collection."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            close: Any = getattr(self.body_iterator, "aclose", None)
            if close is not None:
                await close()


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
