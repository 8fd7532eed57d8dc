"""Who is calling, and from where: set per request by each edge, read anywhere (logs)."""

from __future__ import annotations

import contextvars

ANONYMOUS = "anonymous"

_owner: contextvars.ContextVar[str] = contextvars.ContextVar("pixpress_owner", default=ANONYMOUS)
_client: contextvars.ContextVar[str] = contextvars.ContextVar("pixpress_client", default="-")


def current_owner() -> str:
    """The owner of the request being served (`anonymous` when auth is off)."""
    return _owner.get()


def set_owner(owner: str) -> contextvars.Token[str]:
    return _owner.set(owner)


def current_client() -> str:
    """The client address of the request being served (`client_address.client_address`);
    `-` outside a request, such as background work."""
    return _client.get()


def set_client(address: str) -> contextvars.Token[str]:
    return _client.set(address)
