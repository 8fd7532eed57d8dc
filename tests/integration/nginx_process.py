"""A real nginx (Debian's package) in front of pixpress replicas: deploy/nginx's template filled
with their ports, started on free loopback ports in a tmp prefix, stopped after."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.loopback import free_port, missing

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "nginx"
TEMPLATE = DEPLOY / "pixpress.conf.template"
SHIPPED = DEPLOY / "pixpress.conf"
# The shipped file: three replicas on this machine behind nginx on the single server's ports.
SHIPPED_VALUES = {
    "grpc_listen": "50051",
    "http_listen": "8080",
    "grpc": ["127.0.0.1:50061", "127.0.0.1:50062", "127.0.0.1:50063"],
    "http": ["127.0.0.1:8081", "127.0.0.1:8082", "127.0.0.1:8083"],
}

__all__ = ["NginxProcess", "nginx_binary", "render", "start_nginx"]


def render(grpc_listen: str, http_listen: str, grpc: Sequence[str], http: Sequence[str]) -> str:
    """The template with its listen addresses and upstream servers (HOST:PORT each)."""
    values = {
        "grpc_listen": grpc_listen,
        "http_listen": http_listen,
        "grpc_servers": "\n".join(f"    server {address};" for address in grpc),
        "http_servers": "\n".join(f"    server {address};" for address in http),
    }
    text = TEMPLATE.read_text()
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    assert "{{" not in text, "a placeholder of the template was left unfilled"
    return text


def nginx_binary() -> str:
    """Debian's nginx; skips when it is missing outside CI (in CI a missing nginx fails)."""
    found = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
    )
    return found or missing("nginx is not installed: apt-get install nginx (.ci/run does in CI)")


def _main_config(prefix: Path, site: Path, http_directives: str = "") -> str:
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / kind};" for kind in ("client_body", "proxy", "fastcgi")
    )
    # As root, nginx's workers would run as nobody, who cannot enter pytest's private tmp dirs.
    user = "user root;\n" if os.geteuid() == 0 else ""
    return (
        f"{user}daemon off;\nworker_processes 1;\npid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'error.log'} info;\n"
        "events { worker_connections 512; }\n"
        "http {\n"
        "    log_format upstream '$request_method $uri $status $upstream_addr';\n"
        f"    access_log {prefix / 'access.log'} upstream;\n"
        f"{temp}\n    uwsgi_temp_path {prefix / 'uwsgi'};\n    scgi_temp_path {prefix / 'scgi'};\n"
        f"    include {site};\n"
        f"{http_directives}"
        "}\n"
    )


@dataclass
class NginxProcess:
    """A running nginx; `grpc_address` and `http_address` are its HOST:PORT fronts."""

    process: subprocess.Popen[bytes]
    prefix: Path
    grpc_address: str
    http_address: str

    @property
    def error_log(self) -> str:
        path = self.prefix / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def upstreams(self) -> list[str]:
        """The replica address of each proxied request so far, from the access log."""
        path = self.prefix / "access.log"
        lines = path.read_text().splitlines() if path.exists() else []
        return [line.rsplit(" ", 1)[1] for line in lines]

    def stop(self, timeout: float = 30) -> None:
        """SIGQUIT (finish what is in flight), SIGKILL after `timeout`."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _listening(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


def _start(
    prefix: Path,
    grpc: Sequence[str],
    http: Sequence[str],
    timeout: float,
    http_directives: str = "",
) -> NginxProcess:
    grpc_address, http_address = (f"127.0.0.1:{free_port()}" for _ in range(2))
    site = prefix / "pixpress.conf"
    site.write_text(render(grpc_address, http_address, grpc, http))
    config = prefix / "nginx.conf"
    config.write_text(_main_config(prefix, site, http_directives))
    command = [
        nginx_binary(),
        "-p",
        str(prefix),
        "-c",
        str(config),
        "-e",
        str(prefix / "error.log"),
    ]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
    nginx = NginxProcess(process, prefix, grpc_address, http_address)
    deadline = time.monotonic() + timeout
    while not (_listening(grpc_address) and _listening(http_address)):
        if process.poll() is not None or time.monotonic() > deadline:
            nginx.stop()
            raise RuntimeError(f"nginx did not start:\n{nginx.error_log}")
        time.sleep(0.1)
    return nginx


def start_nginx(
    prefix: Path,
    grpc: Sequence[str],
    http: Sequence[str],
    timeout: float = 60,
    http_directives: str = "",
) -> NginxProcess:
    """nginx on two free loopback ports in front of the replicas' gRPC and HTTP addresses;
    `http_directives` (lines ending in a newline) go in its http block after the site, e.g.
    `proxy_bind 127.0.0.2;` to reach the replicas from another loopback address.

    A free port can be taken between the probe and nginx's bind: a refused start is tried
    again on other ports, twice.
    """
    prefix.mkdir(parents=True, exist_ok=True)
    for attempt in range(3):
        try:
            return _start(prefix, grpc, http, timeout, http_directives)
        except RuntimeError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")
