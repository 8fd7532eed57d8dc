"""Asset bytes as S3 objects `PREFIX/ab/abcdef…` (`--blob-url s3://bucket/prefix`), via boto3.

Endpoint, region and credentials come from boto3's usual sources (`AWS_ENDPOINT_URL`,
`AWS_ACCESS_KEY_ID`, ...). Memory stays bounded: uploads go up in parts from the spool file,
downloads stream. Blocking: call from a thread. boto3 is untyped: it stops at this module.
"""

from __future__ import annotations

import contextlib
import re
from typing import IO, TYPE_CHECKING, Any, cast

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from pixpress_server.errors import StorageUnavailable
from pixpress_server.settings import SettingsError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MIB = 1024 * 1024
# Parts of 8 MiB (S3's minimum is 5), 4 at once: an upload holds at most ~32 MiB.
_TRANSFER = TransferConfig(
    multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4
)
_DOWNLOAD_CHUNK = MIB
_DIGEST = re.compile(r"[0-9a-f]{64}")
_MISSING = {"NoSuchKey", "404", "NotFound"}
RETRY_AFTER = 5.0  # seconds a client is told to wait when the bucket does not answer


def parse_blob_url(url: str) -> tuple[str, str]:
    """`s3://bucket/some/prefix` as (bucket, prefix without slashes at either end)."""
    bucket, _, prefix = url.removeprefix("s3://").partition("/")
    return bucket, prefix.strip("/")


class S3Blobs:
    def __init__(self, url: str) -> None:
        self.url = url
        self.bucket, self.prefix = parse_blob_url(url)
        # One client for every thread (boto3 clients are thread-safe, sessions are not);
        # enough pooled connections for the transfer threads and concurrent downloads.
        self._client: Any = boto3.session.Session().client(
            "s3", config=Config(max_pool_connections=32, retries={"mode": "standard"})
        )

    def prepare(self) -> None:
        """Fail at start, not at the first upload, when the bucket cannot be reached."""
        try:
            self._client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as error:
            raise SettingsError(
                f"--blob-url {self.url}: cannot reach the bucket: {error}"
            ) from None

    def key_for(self, sha256: str) -> str:
        name = f"{sha256[:2]}/{sha256}"
        return f"{self.prefix}/{name}" if self.prefix else name

    def exists(self, sha256: str) -> bool:
        try:
            with _reachable():
                self._client.head_object(Bucket=self.bucket, Key=self.key_for(sha256))
        except FileNotFoundError:
            return False
        return True

    def adopt(self, finished: Path, sha256: str) -> None:
        """Upload the finished file as the blob for `sha256` (in parts when large).

        An object is whole once the PUT (or the multipart completion) returns, and never
        partial before: no one can name a blob that is not complete.
        """
        if self.exists(sha256):
            return  # same content is already stored
        with _reachable():
            self._client.upload_file(
                str(finished), self.bucket, self.key_for(sha256), Config=_TRANSFER
            )

    def open(self, sha256: str, start: int = 0) -> IO[bytes]:
        """The blob's bytes from `start`, streamed as they are read."""
        ranged = {"Range": f"bytes={start}-"} if start else {}
        with _reachable():
            response = self._client.get_object(
                Bucket=self.bucket, Key=self.key_for(sha256), **ranged
            )
        return cast("IO[bytes]", response["Body"])

    def fetch(self, sha256: str, spare: Path) -> Path:
        """Download the blob into `spare` (worker processes read files): `spare`."""
        with self.open(sha256) as body, spare.open("wb") as file, _reachable():
            while chunk := body.read(_DOWNLOAD_CHUNK):
                file.write(chunk)
        return spare

    def remove(self, sha256: str) -> None:
        with _reachable():
            self._client.delete_object(Bucket=self.bucket, Key=self.key_for(sha256))

    def stored(self) -> Iterator[str]:
        """The sha256 of every blob under the prefix."""
        paginator = self._client.get_paginator("list_objects_v2")
        start = f"{self.prefix}/" if self.prefix else ""
        with _reachable():
            for page in paginator.paginate(Bucket=self.bucket, Prefix=start):
                for item in page.get("Contents", []):
                    name = str(item["Key"]).removeprefix(start)
                    directory, _, digest = name.partition("/")
                    if _DIGEST.fullmatch(digest) and directory == digest[:2]:
                        yield digest


@contextlib.contextmanager
def _reachable() -> Iterator[None]:
    """A missing object as FileNotFoundError; any other S3 failure as StorageUnavailable."""
    try:
        yield
    except ClientError as error:
        if str(error.response.get("Error", {}).get("Code", "")) in _MISSING:
            raise FileNotFoundError(str(error)) from None
        raise _unavailable(error) from None
    except BotoCoreError as error:
        raise _unavailable(error) from None


def _unavailable(error: Exception) -> StorageUnavailable:
    return StorageUnavailable(
        "the asset storage did not answer; try again", repr(error), retry_after=RETRY_AFTER
    )
