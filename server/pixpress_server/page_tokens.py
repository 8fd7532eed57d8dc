"""Opaque, signed page tokens for ListActions: a client can't forge or alter one.

A token binds the cursor to the owner and the filters it was issued for, so it is only
valid for the next page of the same listing.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from pixpress_server.errors import InvalidInput
from pixpress_server.store.records import ActionCursor


def load_or_create_secret(path: Path) -> bytes:
    """The server's signing secret, kept in the data dir (mode 0600) across restarts."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_bytes(32)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_bytes()  # another process won the race
    with os.fdopen(descriptor, "wb") as file:
        file.write(secret)
        file.flush()
        os.fsync(file.fileno())
    return secret


@dataclass(frozen=True, slots=True)
class ListingScope:
    """What a token is valid for: the owner and the filters of the listing."""

    owner: str
    status: str
    route_id: str


class PageTokens:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def issue(self, cursor: ActionCursor, scope: ListingScope) -> str:
        body = json.dumps(
            {"created": cursor.created.isoformat(), "id": cursor.id}, separators=(",", ":")
        ).encode()
        encoded = base64.urlsafe_b64encode(body).decode().rstrip("=")
        return f"{encoded}.{self._sign(encoded, scope)}"

    def read(self, token: str, scope: ListingScope) -> ActionCursor:
        """The cursor in `token`; INVALID_ARGUMENT if it was altered or is for another listing."""
        encoded, _, signature = token.partition(".")
        # As bytes: compare_digest refuses str with non-ASCII text (a TypeError, not a refusal).
        expected = self._sign(encoded, scope).encode()
        if not hmac.compare_digest(signature.encode(), expected):
            raise InvalidInput("invalid page token: use the next_page_token of the same listing")
        try:
            data = json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
            return ActionCursor(created=datetime.fromisoformat(data["created"]), id=data["id"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            raise InvalidInput("invalid page token") from None

    def _sign(self, encoded: str, scope: ListingScope) -> str:
        message = "\n".join((encoded, scope.owner, scope.status, scope.route_id)).encode()
        digest = hmac.new(self._secret, message, hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest[:18]).decode()
