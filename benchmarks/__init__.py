"""pixpress benchmark suite: throughput, compression ratio and perceptual quality.

Run it with `python -m benchmarks` (or `pixpress-bench`); see benchmarks/README.md.
"""
