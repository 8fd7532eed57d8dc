from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.server_process import ServerProcess, start_server


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
def address(server: ServerProcess) -> str:
    return server.address
