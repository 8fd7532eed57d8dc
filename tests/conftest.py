"""Shared test helpers: where the fixture images live and how tests get a private copy."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.postgres_service import PostgresServer, start_postgres

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"


def copy_fixture(tmp_path: Path, name: str) -> Path:
    """Copy tests/fixtures/<name> into tmp_path (tests never write into fixtures/)."""
    source = FIXTURES_DIR / name
    target = tmp_path / source.name
    shutil.copyfile(source, target)
    return target


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES_DIR


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One PostgreSQL cluster for the session, started on first use; tests make databases."""
    server = start_postgres()
    yield server
    server.stop()
