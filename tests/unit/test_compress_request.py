"""A background action's request survives its row: `of_action` rebuilds what `action_data`
recorded, for every way of asking for a quality."""

from __future__ import annotations

import pytest
from pixpress_server.calls.compress import CompressRequest
from pixpress_server.calls.options import compress_options
from pixpress_server.processing.model import CompressOptions


@pytest.mark.parametrize(
    "options",
    [
        compress_options(),
        compress_options(quality=35, keep_metadata=True, effort=1),
        compress_options(target_score=75, effort=2),
        compress_options(target_score=80, max_bytes=4096),
        compress_options(quality=90, max_bytes=5_000_000),
    ],
    ids=["defaults", "quality", "target_score", "score_and_budget", "quality_and_budget"],
)
def test_a_recorded_request_is_the_one_submitted(options: CompressOptions) -> None:
    recorded = CompressRequest(options, "asset-1").action_data(store_output=True)
    assert CompressRequest.of_action(recorded) == CompressRequest(options, "asset-1", True)
