"""API key format and hashing: `pxp_<id>_<secret>`; only the secret's SHA-256 is stored.

The id finds the row, so lookups never depend on the secret; the secret's hash is then
compared in constant time. Secrets carry 238 bits of randomness, so a plain SHA-256 is
enough (no password-style stretching is needed for random keys).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

PREFIX = "pxp_"
_ALPHABET = string.ascii_letters + string.digits
_ID_LENGTH = 12
_SECRET_LENGTH = 40


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


@dataclass(frozen=True, slots=True)
class PresentedKey:
    key_id: str
    secret: str


def new_key() -> tuple[str, PresentedKey]:
    """A fresh key: the full text (shown once) and its parts."""
    parts = PresentedKey(_random(_ID_LENGTH), _random(_SECRET_LENGTH))
    return f"{PREFIX}{parts.key_id}_{parts.secret}", parts


def parse(text: str) -> PresentedKey | None:
    """The parts of a key as presented, or None when it cannot be one of ours."""
    if not text.startswith(PREFIX):
        return None
    key_id, _, secret = text[len(PREFIX) :].partition("_")
    if len(key_id) != _ID_LENGTH or len(secret) != _SECRET_LENGTH:
        return None
    return PresentedKey(key_id, secret)


def secret_hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


def matches(secret: str, stored_hash: bytes) -> bool:
    return hmac.compare_digest(secret_hash(secret), stored_hash)
