"""Who is calling: set per request (by the auth interceptor once keys exist), read anywhere."""

from __future__ import annotations

import contextvars

ANONYMOUS = "anonymous"

_owner: contextvars.ContextVar[str] = contextvars.ContextVar("pixpress_owner", default=ANONYMOUS)


def current_owner() -> str:
    """The owner of the request being served (`anonymous` when auth is off)."""
    return _owner.get()


def set_owner(owner: str) -> contextvars.Token[str]:
    return _owner.set(owner)
