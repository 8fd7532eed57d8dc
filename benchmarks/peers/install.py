"""Install the peers into benchmarks/.peers: sharp with npm, thumbor in a venv of its own.

thumbor pins its own Pillow, so it never shares the project's environment.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from benchmarks.peers import PEERS_DIR

SHARP_VERSION = "0.34.5"
THUMBOR_VERSION = "7.8.0"
NODE_DIR = PEERS_DIR / "node"
THUMBOR_VENV = PEERS_DIR / "thumbor-venv"


def sharp_module(root: Path = NODE_DIR) -> Path:
    return root / "node_modules" / "sharp"


def thumbor_executable(venv: Path = THUMBOR_VENV) -> Path:
    return venv / "bin" / "thumbor"


def install_sharp(root: Path = NODE_DIR) -> str | None:
    """`npm install sharp` into `root`; None on success, else why not."""
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not on PATH (install Node.js 20+ and npm)"
    root.mkdir(parents=True, exist_ok=True)
    package = root / "package.json"
    if not package.exists():
        package.write_text('{"name": "pixpress-bench-peers", "private": true}\n')
    command = [npm, "install", "--no-audit", "--no-fund", f"sharp@{SHARP_VERSION}"]
    return _failure("npm install sharp", command, timeout=600, cwd=root)


def install_thumbor(venv: Path = THUMBOR_VENV) -> str | None:
    """`pip install thumbor` into a venv of its own at `venv`; None on success, else why not."""
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    command = [str(venv / "bin" / "pip"), "install", "-q", f"thumbor=={THUMBOR_VERSION}"]
    return _failure("pip install thumbor", command, timeout=900)


def _failure(what: str, command: list[str], timeout: float, cwd: Path | None = None) -> str | None:
    """Run an install command: None when it succeeded, else what failed with its last words."""
    completed = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )
    if completed.returncode != 0:
        return f"{what} failed: {completed.stderr.strip()[-500:]}"
    return None


def install_all() -> dict[str, str | None]:
    """Install every missing peer; peer name -> None (ready) or the failure."""
    results: dict[str, str | None] = {}
    results["sharp"] = None if sharp_module().exists() else install_sharp()
    results["thumbor"] = None if thumbor_executable().exists() else install_thumbor()
    return results
