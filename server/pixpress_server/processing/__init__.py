"""Image processing: format detection, per-format encoders and post-passes, run in worker processes."""
