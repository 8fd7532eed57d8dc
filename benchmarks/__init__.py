"""pixpress benchmark suite: throughput, compression ratio and perceptual quality (`python -m benchmarks`)."""
