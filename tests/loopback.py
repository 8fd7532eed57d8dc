"""What the services the tests start themselves share: a free loopback port, and what a
missing binary does (a skip on a developer's machine, a failure in CI)."""

from __future__ import annotations

import os
import socket
from typing import NoReturn

import pytest


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (another process may take it before it is bound)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def missing(message: str) -> NoReturn:
    """Skip the test, or fail it when `CI` is set: in CI a missing service is a broken setup."""
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
