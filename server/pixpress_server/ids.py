"""Resource ids are UUIDs: new ones, and checking the ones clients send."""

from __future__ import annotations

import uuid

from pixpress_server.errors import InvalidInput


def new_id() -> str:
    return str(uuid.uuid4())


def checked_id(value: str, kind: str) -> str:
    """The canonical form of a client-sent id; INVALID_ARGUMENT when it is no UUID."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise InvalidInput(f"malformed {kind} id {value[:64]!r}: expected a UUID") from None
