"""Regenerate the wire code in client/pixpress/v1/ from proto/pixpress/v1/*.proto.

Run `python proto/generate.py` after editing a .proto; `--check` fails when the committed
code differs from what the .proto files generate (CI runs it).
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
OUT_ROOT = ROOT / "client"
PACKAGE_DIR = Path("pixpress") / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py", "_pb2_grpc.pyi")


def generate(out_root: Path) -> None:
    """Run protoc for every .proto of pixpress.v1, writing below out_root."""
    import grpc_tools
    from grpc_tools import protoc  # dev-only dependency

    include = Path(grpc_tools.__file__).parent / "_proto"
    protos = sorted(
        str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / PACKAGE_DIR).glob("*.proto")
    )
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_root}",
        f"--grpc_python_out={out_root}",
        f"--mypy_out={out_root}",
        f"--mypy_grpc_out={out_root}",
        *protos,
    ]
    # protoc finds the mypy plugins on PATH; they live beside this interpreter.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def generated_files(root: Path) -> set[str]:
    folder = root / PACKAGE_DIR
    return {p.name for p in folder.iterdir() if p.name.endswith(GENERATED_SUFFIXES)}


def _ensure_grpc_tools() -> None:
    """Re-run under the project's venv when this interpreter lacks grpc_tools (dev extra)."""
    try:
        import grpc_tools  # noqa: F401
    except ImportError:
        for venv in (".venv", ".ci-venv"):
            python = ROOT / venv / "bin" / "python"
            if python.exists() and Path(sys.prefix).resolve() != (ROOT / venv).resolve():
                os.execv(python, [str(python), __file__, *sys.argv[1:]])
        raise SystemExit(
            "grpc_tools is missing: install the dev extra (scripts/bootstrap dev)"
        ) from None


def main() -> int:
    _ensure_grpc_tools()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if the committed code is stale")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp_root = Path(tmp)
        (tmp_root / PACKAGE_DIR).mkdir(parents=True)
        generate(tmp_root)
        fresh = generated_files(tmp_root)
        target = OUT_ROOT / PACKAGE_DIR
        if args.check:
            committed = generated_files(OUT_ROOT) if target.exists() else set()
            stale = sorted(
                name
                for name in fresh | committed
                if name not in fresh
                or name not in committed
                or not filecmp.cmp(tmp_root / PACKAGE_DIR / name, target / name, shallow=False)
            )
            if stale:
                print(f"generated code is stale: {', '.join(stale)}; run proto/generate.py")
                return 1
            print("generated code is up to date")
            return 0
        target.mkdir(parents=True, exist_ok=True)
        for name in generated_files(OUT_ROOT) - fresh:
            (target / name).unlink()
        for name in fresh:
            shutil.copyfile(tmp_root / PACKAGE_DIR / name, target / name)
    print(f"wrote {len(fresh)} files to {target.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
