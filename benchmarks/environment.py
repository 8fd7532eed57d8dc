"""What the report states about the run: machine (cores, CPU model, memory), versions, date."""

from __future__ import annotations

import datetime
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import psutil
import pyvips

PACKAGES = (
    "pixpress",
    "grpcio",
    "pyvips",
    "pyvips-binary",
    "mozjpeg-lossless-optimization",
    "pyoxipng",
    "pillow",
    "numpy",
    "matplotlib",
)


def cpu_model() -> str:
    """The CPU's model name (Linux /proc/cpuinfo, else platform.processor())."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def usable_cores() -> int:
    """Cores this process may run on (affinity-aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def describe() -> dict[str, object]:
    """Machine, versions and date, JSON-ready."""
    versions: dict[str, str] = {}
    for package in PACKAGES:
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    versions["libvips"] = ".".join(str(pyvips.version(i)) for i in range(3))
    versions["python"] = platform.python_version()
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "usable_cores": usable_cores(),
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "load_average_at_start": list(os.getloadavg()),
        "platform": platform.platform(),
        "python_executable": sys.executable,
        "versions": versions,
    }
