"""Turns an `authorization: Bearer <key>` header into the key's owner, or refuses it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pixpress_server.auth import keys
from pixpress_server.errors import Unauthenticated
from pixpress_server.store.records import utc_now

if TYPE_CHECKING:
    from pixpress_server.store.base import KeyStore

_BEARER = "bearer "


# A key's "last used" time is written at most this often: a write per request would
# cost more than the lookup itself.
TOUCH_INTERVAL = timedelta(minutes=1)


class Authenticator:
    def __init__(self, store: KeyStore) -> None:
        self._store = store
        self._touched: dict[str, datetime] = {}

    async def owner_for(self, authorization: str | None) -> str:
        """The owner of a valid, unrevoked key.

        Raises:
            Unauthenticated: missing, malformed, unknown or revoked key (one message for
                the last three, so a caller learns nothing about which keys exist).
        """
        if not authorization:
            raise Unauthenticated(
                "missing API key: send the metadata `authorization: Bearer <key>` "
                "(the SDK and CLI read PIXPRESS_API_KEY)"
            )
        if not authorization.lower().startswith(_BEARER):
            raise Unauthenticated("the authorization metadata must be `Bearer <key>`")
        presented = keys.parse(authorization[len(_BEARER) :].strip())
        found = None if presented is None else await self._store.key_with_hash(presented.key_id)
        if presented is None or found is None:
            raise Unauthenticated("invalid or revoked API key")
        record, stored_hash = found
        if not keys.matches(presented.secret, stored_hash) or record.revoked is not None:
            raise Unauthenticated("invalid or revoked API key")
        now = utc_now()
        last = self._touched.get(record.id)
        if last is None or now - last >= TOUCH_INTERVAL:
            self._touched[record.id] = now
            await self._store.touch_key(record.id, now)
        return record.owner
