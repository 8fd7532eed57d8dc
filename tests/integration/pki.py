"""Certificates made at test time (trustme) for the TLS tests: a server CA and a certificate for
127.0.0.1/localhost, and a client CA with one client certificate, all as PEM files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_ca: Path
    client_cert: Path
    client_key: Path


def make_pki(directory: Path) -> Pki:
    """Writes the PEM files into `directory` (an empty one: --tls-key DIR is a test's bad file)."""
    server_ca, client_ca = trustme.CA(), trustme.CA()
    server = server_ca.issue_cert("localhost", "127.0.0.1")
    client = client_ca.issue_cert("client@example.com")
    pki = Pki(
        *(directory / name for name in ("ca.pem", "s.pem", "s.key", "cca.pem", "c.pem", "c.key"))
    )
    server_ca.cert_pem.write_to_path(str(pki.ca))
    server.private_key_and_cert_chain_pem.write_to_path(str(pki.server_cert))
    server.private_key_pem.write_to_path(str(pki.server_key))
    client_ca.cert_pem.write_to_path(str(pki.client_ca))
    client.cert_chain_pems[0].write_to_path(str(pki.client_cert))
    client.private_key_pem.write_to_path(str(pki.client_key))
    return pki
