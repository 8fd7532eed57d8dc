"""Turns an `authorization: Bearer <key>` header into the key's owner, or refuses it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from pixpress_server.auth import keys
from pixpress_server.errors import Unauthenticated
from pixpress_server.store.records import utc_now

if TYPE_CHECKING:
    from pixpress_server.store.base import KeyStore
    from pixpress_server.store.records import ApiKeyRecord

_BEARER = "bearer "

# An unknown key id is checked against this hash, so that it costs the same as a known id
# with a wrong secret: the time to answer tells nothing about which ids exist.
_DUMMY_HASH = keys.secret_hash(keys.new_key()[1].secret)


# A key's "last used" time is written at most this often: a write per request would
# cost more than the lookup itself.
TOUCH_INTERVAL = timedelta(minutes=1)


class Authenticator:
    def __init__(self, store: KeyStore) -> None:
        self._store = store
        self._touched: dict[str, datetime] = {}

    async def identify(self, authorization: str | None) -> ApiKeyRecord:
        """The record of a valid, unrevoked key.

        Raises:
            Unauthenticated: missing, malformed, unknown or revoked key (one message for
                the last three, so a caller learns nothing about which keys exist).
        """
        if not authorization:
            raise Unauthenticated(
                "missing API key: send `authorization: Bearer <key>` as an HTTP header or gRPC "
                "metadata (the SDK and CLI read PIXPRESS_API_KEY)"
            )
        if not authorization.lower().startswith(_BEARER):
            raise Unauthenticated("authorization must be `Bearer <key>`")
        presented = keys.parse(authorization[len(_BEARER) :].strip())
        if presented is None:
            raise Unauthenticated("invalid or revoked API key")
        found = await self._store.key_with_hash(presented.key_id)
        record, stored_hash = (None, _DUMMY_HASH) if found is None else found
        matched = keys.matches(presented.secret, stored_hash)
        if record is None or not matched or record.revoked is not None:
            raise Unauthenticated("invalid or revoked API key")
        now = utc_now()
        last = self._touched.get(record.id)
        if last is None or now - last >= TOUCH_INTERVAL:
            self._touched[record.id] = now
            await self._store.touch_key(record.id, now)
        return record
