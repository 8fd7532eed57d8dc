"""Nothing in the data dir is readable by other local users: directories 0700, files 0600,
for what this process creates (umask) and for a data dir left by an older version."""

from __future__ import annotations

import os
from pathlib import Path

PRIVATE_UMASK = 0o077
DIRECTORY_MODE = 0o700
FILE_MODE = 0o600


def restrict_new_files() -> None:
    """Every file and directory this process (and its workers) creates is owner-only."""
    os.umask(PRIVATE_UMASK)


def tighten(data_dir: Path) -> None:
    """Make an existing data dir owner-only, contents first: the data dir's own mode is
    set last, so a start interrupted half-way does it all again next time."""
    try:
        if data_dir.stat().st_mode & 0o777 == DIRECTORY_MODE:
            return  # done by an earlier start; new entries are private by the umask
    except FileNotFoundError:
        return
    for root, directories, files in os.walk(data_dir):
        for names, mode in ((directories, DIRECTORY_MODE), (files, FILE_MODE)):
            for name in names:
                path = os.path.join(root, name)
                if not os.path.islink(path):  # a link's target is not ours to change
                    os.chmod(path, mode)
    os.chmod(data_dir, DIRECTORY_MODE)
