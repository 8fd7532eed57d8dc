"""`--tls` and `--tls-ca` on every command that talks to a server, and key/CA usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from pixpress.cli import build_parser, main

from tests.unit.test_client_tls import tls_echo_server

SERVER_COMMANDS = [
    ["compress", "a.jpg"],
    ["route", "get", "r"],
    ["assets", "upload", "a.jpg"],
    ["assets", "get", "i"],
    ["assets", "download", "i"],
    ["assets", "rm", "i"],
    ["actions", "list"],
    ["actions", "get", "i"],
    ["actions", "watch", "i"],
    ["actions", "cancel", "i"],
]


@pytest.mark.parametrize("argv", SERVER_COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_every_server_command_takes_tls_options(argv):
    parser = build_parser()
    plain = parser.parse_args(argv)
    assert (plain.tls, plain.tls_ca) == (None, None)  # the environment decides
    args = parser.parse_args([*argv, "--tls", "--tls-ca", "ca.pem"])
    assert (args.tls, args.tls_ca) == (True, Path("ca.pem"))


@pytest.fixture
def clean_env(monkeypatch):
    for name in ("PIXPRESS_API_KEY", "PIXPRESS_TLS_CA", "PIXPRESS_SERVER"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_compress_over_tls_with_the_ca_flag_or_env(tmp_path, clean_env, capsys):
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.cert_pem.bytes())
    source = tmp_path / "a.jpg"
    source.write_bytes(b"image bytes")
    with tls_echo_server(ca) as target:
        code = main(["compress", str(source), "--server", target, "--tls-ca", str(ca_file)])
        assert code == 0, capsys.readouterr().err
        assert (tmp_path / "a.min.jpg").read_bytes() == b"setyb egami"
        clean_env.setenv("PIXPRESS_TLS_CA", str(ca_file))
        assert main(["compress", str(source), "--server", target, "-o", str(tmp_path / "b")]) == 0
        clean_env.delenv("PIXPRESS_TLS_CA")
        # plaintext against the TLS server fails as the server's refusal, exit 1
        assert main(["compress", str(source), "--server", target, "-o", str(tmp_path / "c")]) == 1
    assert "UNAVAILABLE" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


@pytest.mark.parametrize("argv", [["compress", "a.jpg"], ["actions", "list"]])
def test_a_key_with_a_space_inside_is_a_usage_error_that_hides_the_key(
    tmp_path, clean_env, capsys, argv
):
    clean_env.chdir(tmp_path)
    (tmp_path / "a.jpg").write_bytes(b"a")
    clean_env.setenv("PIXPRESS_API_KEY", "pxp_id_SECRET PART")
    with pytest.raises(SystemExit) as exited:
        main([*argv, "--server", "localhost:1"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "The API key from PIXPRESS_API_KEY contains whitespace at character 14 of 18" in err
    assert "SECRET" not in err


def test_a_missing_ca_file_is_a_usage_error(tmp_path, clean_env, capsys):
    with pytest.raises(SystemExit) as exited:
        main(["actions", "list", "--server", "localhost:1", "--tls-ca", str(tmp_path / "no.pem")])
    assert exited.value.code == 2
    assert "Cannot read the CA certificates of --tls-ca at" in capsys.readouterr().err
