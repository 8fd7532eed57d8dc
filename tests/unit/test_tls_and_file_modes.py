"""Startup checks of the TLS files (each problem names its flag) and the data dir's modes."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import trustme
from pixpress_server.filemodes import tighten
from pixpress_server.settings import Settings, SettingsError
from pixpress_server.tls import server_credentials


@pytest.fixture
def pems(tmp_path: Path) -> dict[str, Path]:
    ca = trustme.CA()
    leaf = ca.issue_cert("127.0.0.1", "localhost")
    other = trustme.CA().issue_cert("localhost")
    paths = {
        "cert": tmp_path / "cert.pem",
        "key": tmp_path / "key.pem",
        "other_key": tmp_path / "other-key.pem",
        "ca": tmp_path / "ca.pem",
        "text": tmp_path / "notes.txt",
        "broken": tmp_path / "broken.pem",
    }
    leaf.cert_chain_pems[0].write_to_path(str(paths["cert"]))
    leaf.private_key_pem.write_to_path(str(paths["key"]))
    other.private_key_pem.write_to_path(str(paths["other_key"]))
    ca.cert_pem.write_to_path(str(paths["ca"]))
    paths["text"].write_text("not a certificate\n")
    paths["broken"].write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    return paths


def test_no_cert_means_plaintext() -> None:
    assert server_credentials(Settings()) is None


def test_good_files_give_credentials(pems: dict[str, Path]) -> None:
    assert server_credentials(Settings(tls_cert=pems["cert"], tls_key=pems["key"])) is not None
    mutual = Settings(tls_cert=pems["cert"], tls_key=pems["key"], tls_client_ca=pems["ca"])
    assert server_credentials(mutual) is not None


@pytest.mark.parametrize(
    ("cert", "key", "client_ca", "message"),
    [
        ("missing", "key", None, r"--tls-cert: cannot read .*missing.pem: No such file"),
        ("cert", "missing", None, r"--tls-key: cannot read .*missing.pem: No such file"),
        ("text", "key", None, r"--tls-cert: .*notes.txt is not a PEM file"),
        ("cert", "other_key", None, r"--tls-cert/--tls-key: .* not a valid certificate chain"),
        ("broken", "key", None, r"--tls-cert/--tls-key: .* not a valid certificate chain"),
        ("cert", "key", "missing", r"--tls-client-ca: cannot read"),
        ("cert", "key", "text", r"--tls-client-ca: .*notes.txt is not a PEM file"),
        ("cert", "key", "broken", r"--tls-client-ca: .*broken.pem holds no valid CA"),
    ],
)
def test_bad_files_are_a_settings_error_naming_the_flag(
    pems: dict[str, Path], tmp_path: Path, cert: str, key: str, client_ca: str | None, message: str
) -> None:
    paths = {**pems, "missing": tmp_path / "missing.pem"}
    settings = Settings(
        tls_cert=paths[cert],
        tls_key=paths[key],
        tls_client_ca=None if client_ca is None else paths[client_ca],
    )
    with pytest.raises(SettingsError, match=message):
        server_credentials(settings)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_tighten_makes_an_old_data_dir_owner_only(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "blobs" / "ab").mkdir(parents=True, mode=0o755)
    (data_dir / "tmp").mkdir(mode=0o755)
    blob = data_dir / "blobs" / "ab" / "abcdef"
    blob.write_bytes(b"x")
    database = data_dir / "pixpress.db"
    database.write_bytes(b"y")
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"z")
    (data_dir / "link").symlink_to(outside)
    for path in (data_dir, data_dir / "blobs", data_dir / "blobs" / "ab", data_dir / "tmp"):
        path.chmod(0o755)
    for path in (blob, database, outside):
        path.chmod(0o644)

    tighten(data_dir)

    for path in (data_dir, data_dir / "blobs", data_dir / "blobs" / "ab", data_dir / "tmp"):
        assert _mode(path) == 0o700, path
    assert _mode(blob) == _mode(database) == 0o600
    assert _mode(outside) == 0o644  # a link's target is left alone


def test_tighten_ignores_a_missing_data_dir(tmp_path: Path) -> None:
    tighten(tmp_path / "absent")
    assert not os.path.exists(tmp_path / "absent")
