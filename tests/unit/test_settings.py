"""Every server flag is also PIXPRESS_<FLAG>; the flag wins; bad values name what was wrong."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pixpress_server import settings as settings_module
from pixpress_server.settings import Settings, SettingsError


def load(argv: list[str], environ: dict[str, str]) -> Settings:
    parser = argparse.ArgumentParser()
    settings_module.add_arguments(parser)
    return settings_module.load(parser.parse_args(argv), environ)


def test_defaults() -> None:
    settings = load([], {})
    assert (settings.port, settings.max_input_bytes, settings.max_pixels, settings.max_frames) == (
        50051,
        256 * 1024 * 1024,
        268_402_689,
        1000,
    )
    assert settings.data_dir == Path(".pixpress")
    assert settings.insecure_no_auth is False
    assert settings.memory_budget > 0


def test_env_twins_and_flag_precedence() -> None:
    environ = {
        "PIXPRESS_PORT": "7000",
        "PIXPRESS_MAX_INPUT_BYTES": "64MiB",
        "PIXPRESS_INSECURE_NO_AUTH": "yes",
    }
    settings = load(["--max-input-bytes", "1GiB"], environ)
    assert settings.port == 7000
    assert settings.max_input_bytes == 1024**3
    assert settings.insecure_no_auth is True
    assert load(["--insecure-no-auth"], {}).insecure_no_auth is True


@pytest.mark.parametrize(
    ("argv", "environ", "message"),
    [
        (["--port", "-1"], {}, "--port: expected at least 0"),
        (["--workers", "many"], {}, "--workers: invalid value 'many'"),
        ([], {"PIXPRESS_MAX_PIXELS": "0"}, "PIXPRESS_MAX_PIXELS: expected at least 1"),
        ([], {"PIXPRESS_LOG_LEVEL": "LOUD"}, "PIXPRESS_LOG_LEVEL"),
        (["--route-visibility", "secret"], {}, "expected public or private"),
        (["--route-owner", "a/b"], {}, "--route-owner"),
    ],
)
def test_bad_values_name_the_flag_or_variable(
    argv: list[str], environ: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError, match=message):
        load(argv, environ)


def test_route_id_is_a_uuid_in_canonical_form() -> None:
    assert load([], {}).route_id is None
    settings = load(["--route-id", "6E8BF803-009E-4CCC-B968-09366EBA9FCC"], {})
    assert settings.route_id == "6e8bf803-009e-4ccc-b968-09366eba9fcc"
    with pytest.raises(SettingsError, match="--route-id: invalid value 'hermes'"):
        load(["--route-id", "hermes"], {})


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("15m", 900.0), ("12h", 43200.0), ("30d", 2592000.0)],
)
def test_durations(text: str, seconds: float) -> None:
    assert settings_module.duration(text) == seconds


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--tls-cert", "cert.pem"], "--tls-cert and --tls-key go together"),
        (["--tls-client-ca", "ca.pem"], "--tls-client-ca needs --tls-cert"),
        (["--stream-idle-timeout", "0"], "--stream-idle-timeout: invalid value '0'"),
        (["--action-retention", "soon"], "--action-retention: invalid value 'soon'"),
    ],
)
def test_hardening_flags_name_what_is_wrong(argv: list[str], message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load(argv, {})


def test_retention_off_and_owner_slots_default() -> None:
    settings = load(["--action-retention", "off", "--max-queue", "40"], {})
    assert settings.action_retention is None and settings.owner_slots == 10
    assert load(["--max-slots-per-owner", "3"], {}).owner_slots == 3


def test_blob_dir_follows_the_data_dir_unless_given() -> None:
    assert load([], {}).blob_dir == Path(".pixpress/blobs")
    assert load(["--data-dir", "/srv/px"], {}).blob_dir == Path("/srv/px/blobs")
    assert Settings(data_dir=Path("/srv/px")).blob_dir == Path("/srv/px/blobs")
    given = load(["--data-dir", "/srv/px", "--blob-dir", "/mnt/shared/blobs"], {})
    assert (given.data_dir, given.blob_dir) == (Path("/srv/px"), Path("/mnt/shared/blobs"))
    from_env = load([], {"PIXPRESS_BLOB_DIR": "/mnt/nfs/px"})
    assert from_env.blob_dir == Path("/mnt/nfs/px")
    assert load(["--blob-dir", "/mnt/a"], {"PIXPRESS_BLOB_DIR": "/mnt/b"}).blob_dir == Path(
        "/mnt/a"
    )
    with pytest.raises(SettingsError, match="PIXPRESS_BLOB_DIR: invalid value ''"):
        load([], {"PIXPRESS_BLOB_DIR": ""})


@pytest.mark.parametrize(
    ("argv", "environ"),
    [
        (["--blob-dir", "/mnt/shared", "--blob-url", "s3://bucket/blobs"], {}),
        (["--blob-url", "s3://bucket/blobs"], {"PIXPRESS_BLOB_DIR": "/mnt/shared"}),
        ([], {"PIXPRESS_BLOB_DIR": "/mnt/shared", "PIXPRESS_BLOB_URL": "s3://bucket/blobs"}),
    ],
)
def test_blob_dir_and_blob_url_exclude_each_other(argv: list[str], environ: dict[str, str]) -> None:
    with pytest.raises(SettingsError, match="--blob-dir and --blob-url exclude each other"):
        load(argv, environ)


def test_max_pending_per_owner_default_env_and_minimum() -> None:
    assert load([], {}).max_pending_per_owner == 1000
    assert load([], {"PIXPRESS_MAX_PENDING_PER_OWNER": "50"}).max_pending_per_owner == 50
    with pytest.raises(SettingsError, match="--max-pending-per-owner: expected at least 1"):
        load(["--max-pending-per-owner", "0"], {})
