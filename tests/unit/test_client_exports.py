"""The public surface: a sorted __all__ whose members all import, and no server import."""

from __future__ import annotations

import subprocess
import sys

import pixpress


def test_all_is_sorted():
    assert pixpress.__all__ == sorted(pixpress.__all__)


def test_every_member_is_importable():
    for name in pixpress.__all__:
        assert getattr(pixpress, name) is not None, name


def test_public_classes_claim_the_public_module():
    # Errors render as pixpress.InvalidArgumentError whatever private module defines them.
    for name in pixpress.__all__:
        member = getattr(pixpress, name)
        if isinstance(member, type):
            assert member.__module__.startswith("pixpress."), name


def test_sdk_and_cli_do_not_import_the_server():
    code = (
        "import sys, pixpress, pixpress.cli; "
        "bad = [m for m in sys.modules if m.startswith('pixpress_server')]; "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
