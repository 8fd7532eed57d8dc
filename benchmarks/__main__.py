"""`python -m benchmarks`: run the benchmark suite."""

from __future__ import annotations

from benchmarks.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
