"""`pixpress-server keys create|list|revoke`: manage API keys in the store (--store or data dir)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from pixpress_server.auth import keys
from pixpress_server.filemodes import restrict_new_files, tighten
from pixpress_server.settings import Settings, SettingsError, env_name
from pixpress_server.store.base import KeyStore
from pixpress_server.store.location import add_store_argument, chosen_store, display
from pixpress_server.store.opening import open_store
from pixpress_server.store.records import ApiKeyRecord, utc_now


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("keys", help="create, list and revoke API keys")
    commands = parser.add_subparsers(dest="keys_command", required=True)
    data_dir = argparse.ArgumentParser(add_help=False)
    data_dir.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help=f"the server's data dir [env {env_name('data_dir')}; default .pixpress]",
    )
    add_store_argument(data_dir)
    create = commands.add_parser("create", parents=[data_dir], help="print a new key, once")
    create.add_argument("--owner", required=True, help="who the key belongs to")
    create.add_argument(
        "--init",
        action="store_true",
        help="create the data dir when it has no store yet (else that is an error: a key in a "
        "new, empty data dir is one the server on the real data dir rejects)",
    )
    commands.add_parser("list", parents=[data_dir], help="id, owner, created, last used")
    revoke = commands.add_parser("revoke", parents=[data_dir], help="revoke a key by id")
    revoke.add_argument("id")


def _data_dir(arguments: argparse.Namespace) -> Path:
    """The data dir the command acts on, absolute: --data-dir, $PIXPRESS_DATA_DIR or the default."""
    given = arguments.data_dir or Path(os.environ.get(env_name("data_dir"), Settings().data_dir))
    return Path(given).resolve()


def run(arguments: argparse.Namespace) -> int:
    url = chosen_store(arguments)
    if url is not None:
        print(f"pixpress-server: store {display(url)}", file=sys.stderr)
        try:
            return asyncio.run(_run(url, Path(), arguments))
        except SettingsError as error:
            print(f"pixpress-server: {error}", file=sys.stderr)
            return 2
    data_dir = _data_dir(arguments)
    may_create = arguments.keys_command == "create" and arguments.init
    if not Settings(data_dir=data_dir).database_path.exists() and not may_create:
        advice = (
            "pass the server's --data-dir, or --init to create a new data dir there"
            if arguments.keys_command == "create"
            else "pass the server's --data-dir"
        )
        print(f"pixpress-server: no pixpress data dir at {data_dir}: {advice}", file=sys.stderr)
        return 2
    print(f"pixpress-server: data dir {data_dir}", file=sys.stderr)
    restrict_new_files()  # the store holds key hashes: owner-only, as the server makes it
    tighten(data_dir)
    return asyncio.run(_run(None, Settings(data_dir=data_dir).database_path, arguments))


async def _run(url: str | None, sqlite_path: Path, arguments: argparse.Namespace) -> int:
    store = await open_store(url, sqlite_path)
    try:
        return await _COMMANDS[arguments.keys_command](store, arguments)
    finally:
        await store.close()


async def _create(store: KeyStore, arguments: argparse.Namespace) -> int:
    owner = arguments.owner.strip()
    if not owner or "/" in owner:
        print("pixpress-server: --owner must be a name without '/'", file=sys.stderr)
        return 2
    text, parts = keys.new_key()
    await store.add_key(
        ApiKeyRecord(parts.key_id, owner, utc_now()), keys.secret_hash(parts.secret)
    )
    print(text)
    print(
        f"key {parts.key_id} for {owner}: shown once, store it now "
        f"(clients read it from PIXPRESS_API_KEY)",
        file=sys.stderr,
    )
    return 0


async def _list(store: KeyStore, arguments: argparse.Namespace) -> int:
    print(f"{'ID':<14}{'OWNER':<20}{'CREATED':<22}{'LAST USED':<22}REVOKED")
    for key in await store.list_keys():
        print(
            f"{key.id:<14}{key.owner:<20}{_when(key.created):<22}"
            f"{_when(key.last_used):<22}{_when(key.revoked)}"
        )
    return 0


async def _revoke(store: KeyStore, arguments: argparse.Namespace) -> int:
    if not await store.revoke_key(arguments.id, utc_now()):
        print(f"pixpress-server: no active key {arguments.id}", file=sys.stderr)
        return 1
    print(f"revoked {arguments.id}")
    return 0


def _when(value: object) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M:%S}"


_COMMANDS = {"create": _create, "list": _list, "revoke": _revoke}
