"""The authenticator (same work for unknown ids and wrong secrets) and the gate in front of
it (failed-auth throttle per client address, then the key's rate)."""

from __future__ import annotations

from datetime import datetime

import pytest
from pixpress_server.auth import authenticator as authenticator_module
from pixpress_server.auth import keys
from pixpress_server.auth.authenticator import Authenticator
from pixpress_server.auth.gate import Gate
from pixpress_server.errors import Throttled, Unauthenticated
from pixpress_server.ratelimit import FailureWindow, TokenBuckets
from pixpress_server.store.records import ApiKeyRecord, utc_now


class FakeKeyStore:
    def __init__(self) -> None:
        self.keys: dict[str, tuple[ApiKeyRecord, bytes]] = {}

    def add(self, owner: str, revoked: bool = False) -> str:
        text, parts = keys.new_key()
        record = ApiKeyRecord(
            parts.key_id, owner, utc_now(), revoked=utc_now() if revoked else None
        )
        self.keys[parts.key_id] = (record, keys.secret_hash(parts.secret))
        return text

    async def key_with_hash(self, key_id: str) -> tuple[ApiKeyRecord, bytes] | None:
        return self.keys.get(key_id)

    async def touch_key(self, key_id: str, when: datetime) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _wrong_secret(key: str) -> str:
    return key[:-1] + ("A" if key[-1] != "A" else "B")


def _unknown_id(key: str) -> str:
    return keys.PREFIX + "Z" * 12 + key[len(keys.PREFIX) + 12 :]


async def test_unknown_ids_and_wrong_secrets_both_compare_a_hash(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = FakeKeyStore()
    good = store.add("alice")
    compared: list[tuple[str, bytes]] = []
    real_matches = keys.matches

    def spy(secret: str, stored_hash: bytes) -> bool:
        compared.append((secret, stored_hash))
        return real_matches(secret, stored_hash)

    monkeypatch.setattr(keys, "matches", spy)
    authenticator = Authenticator(store)
    for presented in (_wrong_secret(good), _unknown_id(good)):
        with pytest.raises(Unauthenticated, match="invalid or revoked API key"):
            await authenticator.identify(f"Bearer {presented}")
    assert [len(stored) for _, stored in compared] == [32, 32]
    assert compared[1][1] == authenticator_module._DUMMY_HASH
    assert (await authenticator.identify(f"Bearer {good}")).owner == "alice"
    assert len(compared) == 3


async def test_revoked_keys_are_refused() -> None:
    store = FakeKeyStore()
    revoked = store.add("alice", revoked=True)
    with pytest.raises(Unauthenticated):
        await Authenticator(store).identify(f"Bearer {revoked}")


async def test_gate_refuses_an_address_after_its_failures_even_with_a_good_key() -> None:
    store = FakeKeyStore()
    good = store.add("alice")
    clock = FakeClock()
    gate = Gate(Authenticator(store), FailureWindow(3, 60, clock), None)
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            await gate.admit(f"Bearer {_wrong_secret(good)}", "10.0.0.1")
    with pytest.raises(Throttled) as raised:
        await gate.admit(f"Bearer {good}", "10.0.0.1")
    assert raised.value.retry_after == pytest.approx(60)
    assert await gate.admit(f"Bearer {good}", "10.0.0.2") == "alice"
    clock.now += 60.5
    assert await gate.admit(f"Bearer {good}", "10.0.0.1") == "alice"


async def test_missing_keys_count_as_failures() -> None:
    gate = Gate(Authenticator(FakeKeyStore()), FailureWindow(2, 60, FakeClock()), None)
    for _ in range(2):
        with pytest.raises(Unauthenticated):
            await gate.admit(None, "10.0.0.1")
    with pytest.raises(Throttled):
        await gate.admit(None, "10.0.0.1")


async def test_gate_applies_the_rate_per_key() -> None:
    store = FakeKeyStore()
    alice, bob = store.add("alice"), store.add("bob")
    clock = FakeClock()
    gate = Gate(Authenticator(store), FailureWindow(30, 60, clock), TokenBuckets(2, 2, clock))
    for _ in range(2):
        assert await gate.admit(f"Bearer {alice}", "10.0.0.1") == "alice"
    with pytest.raises(Throttled) as raised:
        await gate.admit(f"Bearer {alice}", "10.0.0.1")
    assert raised.value.retry_after == pytest.approx(0.5)
    assert await gate.admit(f"Bearer {bob}", "10.0.0.1") == "bob"
    clock.now += 0.5
    assert await gate.admit(f"Bearer {alice}", "10.0.0.1") == "alice"
