"""moto's standalone S3 emulator (PyPI `moto[server]`) on a free loopback port, for tests."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.loopback import free_port, missing

ACCESS_KEY, SECRET_KEY, REGION = "testing", "testing", "us-east-1"
START_SECONDS = 60.0


@dataclass(frozen=True)
class MotoS3:
    endpoint: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Stop the emulator (again is harmless): its S3 stops answering."""
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=30)

    @property
    def environment(self) -> dict[str, str]:
        """What a process needs to reach this emulator through boto3's own settings."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_DEFAULT_REGION": REGION,
        }

    @contextmanager
    def exported(self) -> Iterator[None]:
        """`environment` in os.environ meanwhile: a server started inside inherits it."""
        with pytest.MonkeyPatch.context() as patch:
            for name, value in self.environment.items():
                patch.setenv(name, value)
            yield

    def client(self) -> Any:
        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )


def moto_binary() -> str | None:
    """moto_server next to this Python (the venv), else on PATH, else None."""
    beside = Path(sys.executable).with_name("moto_server")
    return str(beside) if beside.exists() else shutil.which("moto_server")


@contextmanager
def running_moto(directory: Path, *buckets: str) -> Iterator[MotoS3]:
    """Start moto_server in `directory`, wait until it answers S3 calls, create `buckets`,
    stop it after."""
    binary = moto_binary() or missing(
        "moto_server is not installed: pip install -e '.[dev]' installs moto[server]"
    )
    port = free_port()
    log_path = directory / "moto.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [binary, "-H", "127.0.0.1", "-p", str(port)],
            cwd=directory,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    moto = MotoS3(f"http://127.0.0.1:{port}", process)
    try:
        _wait_ready(moto, process, log_path)
        for bucket in buckets:
            moto.client().create_bucket(Bucket=bucket)
        yield moto
    finally:
        moto.stop()


def _wait_ready(moto: MotoS3, process: subprocess.Popen[bytes], log_path: Path) -> None:
    client = moto.client()
    deadline = time.monotonic() + START_SECONDS
    while True:
        if process.poll() is not None:
            raise AssertionError(f"moto_server exited: {log_path.read_text()[-2000:]}")
        try:
            client.list_buckets()
            return
        except Exception:  # not listening yet
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"moto_server not ready in {START_SECONDS:.0f}s: {log_path.read_text()[-2000:]}"
                ) from None
            time.sleep(0.2)
