from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.integration.server_process import ServerProcess, create_key, start_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One real server for the session: 2 workers, small limits so limit tests stay fast."""
    data_dir = tmp_path_factory.mktemp("server-data")
    process = start_server(
        data_dir,
        ["--workers", "2", "--max-input-bytes", "64MiB", "--log-level", "INFO"],
    )
    yield process
    assert process.stop() == 0, process.log


@pytest.fixture(scope="session")
def address(server: ServerProcess, api_key: str) -> str:
    """The session server's address; PIXPRESS_API_KEY holds a valid key meanwhile."""
    return server.address


@pytest.fixture(scope="session")
def api_key(server: ServerProcess) -> Iterator[str]:
    """A key of owner `alice`, also exported as PIXPRESS_API_KEY for the SDK and CLI."""
    key = create_key(server.data_dir, "alice")
    previous = os.environ.get("PIXPRESS_API_KEY")
    os.environ["PIXPRESS_API_KEY"] = key
    yield key
    if previous is None:
        os.environ.pop("PIXPRESS_API_KEY", None)
    else:
        os.environ["PIXPRESS_API_KEY"] = previous
